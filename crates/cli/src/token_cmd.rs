//! `flightdeck token set | delete | status [--for github|anthropic|openai|growthbook]`: the
//! GitHub token, the vendors' admin keys (for their cost reports) and GrowthBook's secret key in the OS keyring. A secret is read
//! from standard input (never an argument, which would land in shell history and `ps`) and
//! never printed.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use flightdeck_core::config::Settings;
use flightdeck_core::forge::github::{find_token, forge_host};
use flightdeck_core::model::secrets;

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Store a secret in the OS keyring, read from standard input: the GitHub token for the
    /// configured API (`gh auth token | flightdeck token set`), or with `--for anthropic|openai`
    /// a vendor's admin key.
    Set {
        #[arg(long = "for", value_enum, default_value = "github")]
        target: Target,
    },
    /// Remove the stored secret.
    Delete {
        #[arg(long = "for", value_enum, default_value = "github")]
        target: Target,
    },
    /// Where the secret would come from now (it is never shown).
    Status {
        #[arg(long = "for", value_enum, default_value = "github")]
        target: Target,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Target {
    Github,
    Anthropic,
    Openai,
    Growthbook,
}

pub fn run(settings: &Settings, cmd: &TokenCmd) -> Result<ExitCode> {
    use flightdeck_core::sources::billing::{self, Vendor};
    let (TokenCmd::Set { target } | TokenCmd::Delete { target } | TokenCmd::Status { target }) =
        cmd;
    let vendor = match target {
        Target::Github | Target::Growthbook => None,
        Target::Anthropic => Some(Vendor::Anthropic),
        Target::Openai => Some(Vendor::OpenAi),
    };
    let (api, account) = match vendor {
        None if matches!(target, Target::Growthbook) => (
            format!("GrowthBook ({})", settings.growthbook_api_url),
            flightdeck_core::sources::growthbook::account(&settings.growthbook_api_url),
        ),
        None => (
            settings.github_api_url.clone(),
            secrets::github_account(&forge_host(&settings.github_api_url)),
        ),
        Some(v) => (format!("{} billing", v.name()), billing::account(v)),
    };
    let api = &api;
    match cmd {
        TokenCmd::Set { .. } => {
            let token = read_secret(api)?;
            let token = token.as_str();
            secrets::set(&account, token)
                .with_context(|| format!("storing the token for {api}"))?;
            outln!("stored the token for {api} in the OS keyring");
        }
        TokenCmd::Delete { .. } => {
            if secrets::delete(&account).with_context(|| format!("removing the token for {api}"))? {
                outln!("removed the token for {api} from the OS keyring");
            } else {
                outln!("no token for {api} in the OS keyring");
            }
        }
        TokenCmd::Status { .. } => match vendor {
            None if matches!(target, Target::Growthbook) => {
                match flightdeck_core::sources::growthbook::key(&settings.growthbook_api_url) {
                    Some(_) => outln!("{api}: a secret key is set"),
                    None => outln!("{api}: no secret key"),
                }
            }
            None => match find_token(api) {
                Some((_, from)) => outln!("{api}: a token from {from}"),
                None => outln!(
                    "{api}: no token (60 requests an hour): {}",
                    flightdeck_core::forge::github::how_to_add(api)
                ),
            },
            Some(v) => match v.key() {
                Some(_) => outln!("{api}: an admin key is set"),
                None => outln!("{api}: no admin key"),
            },
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// A secret for `what`, read from standard input (never an argument, which would land in
/// shell history and `ps`): one token, no spaces.
pub fn read_secret(what: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Paste the secret for {what}, then Enter:");
    }
    let mut text = String::new();
    if stdin.is_terminal() {
        stdin.read_line(&mut text).context("reading the secret")?;
    } else {
        stdin
            .lock()
            .read_to_string(&mut text)
            .context("reading the secret from standard input")?;
    }
    let token = text.trim();
    if token.is_empty() {
        bail!("nothing on standard input; pipe the secret in (`gh auth token | flightdeck token set`)");
    }
    if token.contains(char::is_whitespace) {
        bail!("that is not one token (it has spaces or several lines)");
    }
    Ok(token.to_string())
}
