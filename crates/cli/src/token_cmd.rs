//! `flightdeck token set | delete | status`: the GitHub token in the OS keyring. The token is
//! read from standard input (never an argument, which would land in shell history and `ps`) and
//! never printed.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use flightdeck_core::config::Settings;
use flightdeck_core::github::{find_token, forge_host};
use flightdeck_core::secrets;

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Store a GitHub token for the configured API (`github.api_url`) in the OS keyring, read
    /// from standard input: `gh auth token | flightdeck token set`, or paste it.
    Set,
    /// Remove the stored token.
    Delete,
    /// Where the token would come from now (it is never shown).
    Status,
}

pub fn run(settings: &Settings, cmd: &TokenCmd) -> Result<ExitCode> {
    let api = &settings.github_api_url;
    let account = secrets::github_account(&forge_host(api));
    match cmd {
        TokenCmd::Set => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("Paste the GitHub token for {api}, then Enter:");
            }
            let mut text = String::new();
            if stdin.is_terminal() {
                stdin.read_line(&mut text).context("reading the token")?;
            } else {
                stdin
                    .lock()
                    .read_to_string(&mut text)
                    .context("reading the token from standard input")?;
            }
            let token = text.trim();
            if token.is_empty() {
                bail!("no token on standard input; try `gh auth token | flightdeck token set`");
            }
            if token.contains(char::is_whitespace) {
                bail!("that is not one token (it has spaces or several lines)");
            }
            secrets::set(&account, token)
                .with_context(|| format!("storing the token for {api}"))?;
            println!("stored the token for {api} in the OS keyring");
        }
        TokenCmd::Delete => {
            if secrets::delete(&account).with_context(|| format!("removing the token for {api}"))? {
                println!("removed the token for {api} from the OS keyring");
            } else {
                println!("no token for {api} in the OS keyring");
            }
        }
        TokenCmd::Status => match find_token(api) {
            Some((_, from)) => println!("{api}: a token from {from}"),
            None => println!("{api}: no token (60 requests an hour)"),
        },
    }
    Ok(ExitCode::SUCCESS)
}
