//! The `flightdeck` command. Parses flags, resolves settings (flags > env > config file >
//! defaults), runs one subcommand, and turns any error into one line on stderr and exit code 1.
#![deny(clippy::print_stdout)]

#[macro_use]
mod output;
mod access_cmd;
mod audit_cmd;
mod commands;
#[cfg(feature = "demo")]
mod demo_cmd;
#[cfg(feature = "demo")]
mod demo_github;
mod deploy_cmd;
mod doctor;
mod experiment_cmd;
mod incident_cmd;
mod notify_cmd;
mod release_cmd;
mod report_cmd;
mod review_cmd;
mod serve_cmd;
mod spend_cmd;
mod token_cmd;
mod work_cmd;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use flightdeck_app::Lead;
use flightdeck_core::config::{self, Dirs, Overrides, Settings};
use flightdeck_core::domain::outbox::Resolve;

#[derive(Parser)]
#[command(
    name = "flightdeck",
    version,
    about = "The cockpit for leads who supervise AI coding agents"
)]
struct Cli {
    /// Config file (TOML). Default: $XDG_CONFIG_HOME/flightdeck/config.toml.
    #[arg(long, global = true, env = "FLIGHTDECK_CONFIG")]
    config: Option<PathBuf>,
    /// sqlite://PATH, a file path, or postgres://USER@HOST/DB. Default: the data dir's flightdeck.db.
    #[arg(long, global = true, env = "FLIGHTDECK_DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// Address to listen on. Anything but loopback needs --tls (or --behind-proxy).
    #[arg(long)]
    bind: Option<IpAddr>,
    /// Port to listen on (default 7878).
    #[arg(long)]
    port: Option<u16>,
    /// A bearer token scripts may send instead of signing in.
    #[arg(long, env = "FLIGHTDECK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Serve HTTPS with a certificate made here on first use (its CA can be installed on a
    /// phone; the fingerprint is printed).
    #[arg(long)]
    tls: bool,
    /// Serve HTTPS with this certificate chain (PEM), e.g. from a VPN's or the company's CA.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A proxy in front terminates TLS: serve plain HTTP to it, mark cookies Secure.
    #[arg(long, conflicts_with_all = ["tls", "tls_cert"])]
    behind_proxy: bool,
    /// The built UI (default: ui/dist of this checkout).
    #[arg(long)]
    ui_dir: Option<PathBuf>,
}

#[derive(Args, Clone, Default)]
struct SourceArgs {
    /// A git work tree to watch (repeatable; adds to [sources] repos).
    #[arg(long = "repo")]
    repos: Vec<PathBuf>,
    /// A Claude Code config dir holding projects/ (repeatable; replaces the default).
    #[arg(long = "claude-dir")]
    claude_dirs: Vec<PathBuf>,
    /// The Codex home holding sessions/ (default $CODEX_HOME or ~/.codex).
    #[arg(long, alias = "codex-dir")]
    codex_home: Option<PathBuf>,
    /// A Gemini CLI data dir holding <hash>/chats/ (repeatable; default ~/.gemini/tmp).
    #[arg(long = "gemini-dir")]
    gemini_dirs: Vec<PathBuf>,
    /// A dir of Flightdeck-format agent logs, <dir>/<agent>/*.jsonl (repeatable).
    #[arg(long = "generic-dir")]
    generic_dirs: Vec<PathBuf>,
}

impl SourceArgs {
    /// The log folders named on the command line that are not there: a typo the user should
    /// hear about (a default folder that is missing just means that agent is not used here).
    fn missing_dirs(&self) -> Vec<String> {
        let named = self
            .claude_dirs
            .iter()
            .map(|d| ("--claude-dir", d))
            .chain(self.codex_home.iter().map(|d| ("--codex-home", d)))
            .chain(self.gemini_dirs.iter().map(|d| ("--gemini-dir", d)))
            .chain(self.generic_dirs.iter().map(|d| ("--generic-dir", d)));
        named
            .filter(|(_, d)| !d.is_dir())
            .map(|(flag, d)| format!("{flag} {}: no such directory", d.display()))
            .collect()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Build a demo workspace (git repos, agent logs), load it, and serve the UI.
    // Left out of the shipped build (the `demo` feature); asked for there, it says how to get it.
    #[cfg_attr(not(feature = "demo"), command(hide = true))]
    Demo {
        /// Where to build it (default: the data dir's demo/).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Do not open the desktop window.
        #[arg(long)]
        no_open: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Ingest the configured sources and serve the UI and API.
    Serve {
        #[command(flatten)]
        sources: SourceArgs,
        /// Seconds between full rescans (changes are also picked up live as files change).
        #[arg(long, default_value_t = 60)]
        rescan_secs: u64,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Read every source once (only what is new since the last pass) and print a summary.
    Ingest {
        #[command(flatten)]
        sources: SourceArgs,
    },
    /// Print reports from the store (tables, or JSON with --json).
    #[command(subcommand)]
    Report(commands::ReportCmd),
    /// Manage the watched repositories.
    #[command(subcommand)]
    Repo(commands::RepoCmd),
    /// Verify or export the signed audit log.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCmd),
    /// Work items for people and agents: list, add, assign, state, dispatch, cancel.
    #[command(subcommand)]
    Work(work_cmd::WorkCmd),
    /// Deploys from any pipeline: record, list, show (what each shipped, exactly).
    #[command(subcommand)]
    Deploy(deploy_cmd::DeployCmd),
    /// Experiments: import results, list, show a scorecard (lift, intervals, SRM, readiness), decide.
    #[command(subcommand)]
    Experiment(experiment_cmd::ExperimentCmd),
    /// Releases: list, show (changes and risk signals), approve, reject (signed; offline-safe).
    #[command(subcommand)]
    Release(release_cmd::ReleaseCmd),
    /// Incidents for DORA: record one from a pager or by hand, list them.
    #[command(subcommand)]
    Incident(incident_cmd::IncidentCmd),
    /// Fixed costs (seats, subscriptions): import a CSV, add one, list them.
    #[command(subcommand)]
    Costs(spend_cmd::CostsCmd),
    /// The vendors' cost reports: `billing sync` fetches what is new.
    #[command(subcommand)]
    Billing(spend_cmd::BillingCmd),
    /// Monthly budgets (team, repo, agent, vendor): set, list with forecast, remove.
    #[command(subcommand)]
    Budget(spend_cmd::BudgetCmd),
    /// The price table: list it (with your prices and discounts), check for unpriced models.
    #[command(subcommand)]
    Prices(spend_cmd::PricesCmd),
    /// Notifications out: the channels and rules, what was sent, a test message, a channel's
    /// secret.
    #[command(subcommand)]
    Notify(notify_cmd::NotifyCmd),
    /// The GitHub token in the OS keyring: set (from standard input), delete, status.
    #[command(subcommand)]
    Token(token_cmd::TokenCmd),
    /// Open change requests with the merge policy's verdict on each.
    Changes {
        #[arg(long)]
        json: bool,
    },
    /// Approve a change request (its current head).
    Approve {
        #[command(flatten)]
        change: review_cmd::ChangeArg,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Ask for changes, saying what; with --send-back, an agent gets the comments and the diff
    /// as its next prompt on the same branch (run here, its output printed).
    RequestChanges {
        #[command(flatten)]
        change: review_cmd::ChangeArg,
        #[arg(long)]
        comment: String,
        /// A configured agent to send the change back to.
        #[arg(long, value_name = "AGENT")]
        send_back: Option<String>,
    },
    /// Comment on a change request.
    Comment {
        #[command(flatten)]
        change: review_cmd::ChangeArg,
        #[arg(long)]
        comment: String,
    },
    /// Merge a change request as reviewed (policy permitting).
    Merge(review_cmd::MergeArgs),
    /// Close a change request without merging (a local branch is kept; new commits reopen it).
    Close {
        #[command(flatten)]
        change: review_cmd::ChangeArg,
        /// Why, for the audit log.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Send every queued action that is due.
    Sync,
    /// The outbox: queued, applied and failed actions; retry or dismiss a failed one.
    Outbox {
        #[arg(long)]
        json: bool,
        /// Send a failed action again (after fixing its cause), by its key or a prefix of it.
        #[arg(long, value_name = "KEY", conflicts_with = "dismiss")]
        retry: Option<String>,
        /// Let a failed action go (it leaves the inbox; the audit log keeps it).
        #[arg(long, value_name = "KEY")]
        dismiss: Option<String>,
    },
    /// Print a new one-time sign-in link for the web UI (the one `serve` printed is used or old).
    Login {
        /// The server's address, when it is not the configured one (e.g. started with --port 0).
        #[arg(long)]
        url: Option<String>,
        /// Who the browser acts as: a [team] member's id (default: you).
        #[arg(long = "for", value_name = "MEMBER")]
        person: Option<String>,
    },
    /// Pair a phone: a QR code that signs it in once, within 5 minutes, as a named device.
    Pair {
        /// What to call the device ("Ana's phone"); shown in `devices list`.
        #[arg(long)]
        name: Option<String>,
        /// The server's address as the phone reaches it (default: the first [server] hosts
        /// name, else the configured address).
        #[arg(long)]
        url: Option<String>,
        /// Who the phone acts as: a [team] member's id (default: you).
        #[arg(long = "for", value_name = "MEMBER")]
        person: Option<String>,
    },
    /// The browsers signed in to the web UI: list, revoke.
    #[command(subcommand)]
    Devices(access_cmd::DevicesCmd),
    /// Check config, database, data dirs and sources; say what is wrong and how to fix it.
    Doctor {
        #[command(flatten)]
        sources: SourceArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

fn main() -> ExitCode {
    // Before any thread: libgit2's options are process globals.
    flightdeck_core::sources::git::libgit2_for_reading();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLIGHTDECK_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli, serve: &ServeArgs, sources: &SourceArgs) -> Result<(Settings, Dirs)> {
    let overrides = Overrides {
        database_url: cli.database_url.clone(),
        bind: serve.bind,
        port: serve.port,
        token: serve.token.clone(),
        ui_dir: serve.ui_dir.clone(),
        repos: sources.repos.clone(),
        claude_dirs: (!sources.claude_dirs.is_empty()).then(|| sources.claude_dirs.clone()),
        codex_home: sources.codex_home.clone(),
        gemini_dirs: (!sources.gemini_dirs.is_empty()).then(|| sources.gemini_dirs.clone()),
        generic_dirs: (!sources.generic_dirs.is_empty()).then(|| sources.generic_dirs.clone()),
        tls: serve.tls,
        tls_cert: serve.tls_cert.clone(),
        tls_key: serve.tls_key.clone(),
        behind_proxy: serve.behind_proxy,
    };
    if matches!(cli.command, Command::Demo { .. }) {
        // The demo runs on its own settings: the flags given, never the user's config file
        // (its agents, sources or team), and no secret of this machine (`demo`).
        let dirs = config::Dirs::from_env()?;
        let demo = config::RawConfig {
            demo: true,
            ..Default::default()
        };
        let settings = Settings::resolve(demo, overrides, &dirs)?;
        return Ok((settings, dirs));
    }
    Ok(config::load(cli.config.clone(), overrides)?)
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let none = (ServeArgs::default(), SourceArgs::default());
    let (serve, sources) = match &cli.command {
        Command::Demo { serve, .. } => (serve, &none.1),
        Command::Serve { sources, serve, .. } | Command::Doctor { sources, serve } => {
            (serve, sources)
        }
        Command::Ingest { sources } => (&none.0, sources),
        _ => (&none.0, &none.1),
    };
    let (settings, dirs) = settings(&cli, serve, sources)?;
    // Who acts from here, built once for whichever command runs (the demo makes its own).
    let lead = Lead::from_settings(&settings);
    let (settings, lead) = (&settings, &lead);
    match &cli.command {
        #[cfg(not(feature = "demo"))]
        Command::Demo { .. } => Err(anyhow::anyhow!(
            "this build of flightdeck has no demo (installed packages leave it out): in a checkout, \
             run `bash scripts/demo.sh`, or build with `cargo build -p flightdeck-cli --features demo`"
        )),
        #[cfg(feature = "demo")]
        Command::Demo { dir, no_open, .. } => {
            let mut settings = settings.clone();
            let dir = dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("demo"));
            if cli.database_url.is_none() {
                // The demo keeps its own database beside its repos, never the user's.
                settings.database_url = format!("sqlite://{}", dir.join("flightdeck.db").display());
            }
            demo_cmd::run(settings, dir, !no_open).await
        }
        Command::Serve { rescan_secs, .. } => {
            let every = Duration::from_secs((*rescan_secs).max(1));
            serve_cmd::serve(settings.clone(), lead.clone(), every).await
        }
        Command::Ingest { sources } => commands::ingest(settings, sources.missing_dirs()).await,
        Command::Report(cmd) => commands::report(settings, cmd).await,
        Command::Repo(cmd) => commands::repo(settings, cmd).await,
        Command::Changes { json } => review_cmd::list(settings, *json).await,
        Command::Approve { change, comment } => {
            review_cmd::act(settings, lead, "approve", change, comment.clone(), None).await
        }
        Command::RequestChanges {
            change,
            comment,
            send_back,
        } => {
            review_cmd::request_changes(settings, lead, change, comment, send_back.as_deref()).await
        }
        Command::Comment { change, comment } => {
            let comment = Some(comment.clone());
            review_cmd::act(settings, lead, "comment", change, comment, None).await
        }
        Command::Merge(args) => {
            review_cmd::act(settings, lead, "merge", &args.change, None, Some(args)).await
        }
        Command::Close { change, comment } => {
            review_cmd::act(settings, lead, "close", change, comment.clone(), None).await
        }
        Command::Sync => review_cmd::sync(settings, lead).await,
        Command::Outbox {
            json,
            retry,
            dismiss,
        } => match (retry, dismiss) {
            (Some(k), _) => review_cmd::outbox_resolve(settings, lead, k, Resolve::Retry).await,
            (_, Some(k)) => review_cmd::outbox_resolve(settings, lead, k, Resolve::Dismiss).await,
            _ => review_cmd::outbox_list(settings, *json).await,
        },
        Command::Release(cmd) => release_cmd::run(settings, lead, cmd).await,
        Command::Incident(cmd) => incident_cmd::run(settings, cmd).await,
        Command::Deploy(cmd) => deploy_cmd::run(settings, cmd).await,
        Command::Experiment(cmd) => experiment_cmd::run(settings, lead, cmd).await,
        Command::Work(cmd) => work_cmd::run(settings, lead, cmd).await,
        Command::Costs(cmd) => spend_cmd::costs(settings, cmd).await,
        Command::Billing(cmd) => spend_cmd::billing(settings, cmd).await,
        Command::Budget(cmd) => spend_cmd::budget(settings, cmd).await,
        Command::Prices(cmd) => spend_cmd::prices(settings, cmd).await,
        Command::Token(cmd) => token_cmd::run(settings, cmd),
        Command::Notify(cmd) => notify_cmd::run(settings, cmd).await,
        Command::Audit(cmd) => audit_cmd::run(settings, lead, cmd).await,
        Command::Login { url, person } => {
            access_cmd::login(settings, url.as_deref(), person.as_deref()).await
        }
        Command::Pair { name, url, person } => {
            access_cmd::pair(settings, name.as_deref(), url.as_deref(), person.as_deref()).await
        }
        Command::Devices(cmd) => access_cmd::devices(settings, cmd).await,
        Command::Doctor { .. } => Ok(doctor::run(settings, &dirs).await),
    }
}

pub(crate) fn now() -> i64 {
    flightdeck_app::now()
}

/// Tells the team's other instances (a shared PostgreSQL) what this command changed, so their
/// open views refresh; a failure to tell them is a note, never the command's failure.
pub(crate) async fn tell_others(
    store: &flightdeck_core::store::Store,
    published: &mut tokio::sync::broadcast::Receiver<flightdeck_core::model::events::Event>,
) {
    if let Err(e) = store.tell_others(published).await {
        eprintln!("note: other Flightdecks on this database were not told of it ({e})");
    }
}
