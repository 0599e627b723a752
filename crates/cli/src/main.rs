//! The `flightdeck` command. Parses flags, resolves settings (flags > env > config file >
//! defaults), runs one subcommand, and turns any error into one line on stderr and exit code 1.

mod audit_cmd;
mod commands;
mod demo_github;
mod deploy_cmd;
mod doctor;
mod review_cmd;
mod spend_cmd;
mod token_cmd;
mod work_cmd;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use flightdeck_core::config::{self, Dirs, Overrides, Settings};
use flightdeck_core::demo;
use flightdeck_core::events::EventBus;
use flightdeck_core::outbox::Resolve;
use flightdeck_core::store::Store;
use flightdeck_core::{ingest, watch};
use flightdeck_server::AppState;

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
    /// Address to listen on. Anything but loopback needs --token.
    #[arg(long)]
    bind: Option<IpAddr>,
    /// Port to listen on (default 7878).
    #[arg(long)]
    port: Option<u16>,
    /// Secret every API request must carry; required for a non-loopback --bind.
    #[arg(long, env = "FLIGHTDECK_TOKEN", hide_env_values = true)]
    token: Option<String>,
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

#[derive(Subcommand)]
enum Command {
    /// Build a demo workspace (git repos, agent logs), load it, and serve the UI.
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
    /// Releases: list, show (changes and risk signals), approve, reject (signed; offline-safe).
    #[command(subcommand)]
    Release(deploy_cmd::ReleaseCmd),
    /// Incidents for DORA: record one from a pager or by hand, list them.
    #[command(subcommand)]
    Incident(deploy_cmd::IncidentCmd),
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
    /// Ask for changes, saying what.
    RequestChanges {
        #[command(flatten)]
        change: review_cmd::ChangeArg,
        #[arg(long)]
        comment: String,
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
    /// Check config, database, data dirs and sources; say what is wrong and how to fix it.
    Doctor {
        #[command(flatten)]
        sources: SourceArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

fn main() -> ExitCode {
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
    };
    Ok(config::load(cli.config.clone(), overrides)?)
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Demo {
            dir,
            no_open,
            serve,
        } => {
            let (mut settings, _) = settings(&cli, serve, &SourceArgs::default())?;
            let dir = dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("demo"));
            if cli.database_url.is_none() {
                // The demo keeps its own database beside its repos, never the user's.
                settings.database_url = format!("sqlite://{}", dir.join("flightdeck.db").display());
            }
            demo_cmd(settings, dir, !no_open).await
        }
        Command::Serve {
            sources,
            rescan_secs,
            serve,
        } => {
            let (settings, _) = settings(&cli, serve, sources)?;
            serve_cmd(settings, Duration::from_secs((*rescan_secs).max(1))).await
        }
        Command::Ingest { sources } => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), sources)?;
            commands::ingest(&settings).await
        }
        Command::Report(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            commands::report(&settings, cmd).await
        }
        Command::Repo(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            commands::repo(&settings, cmd).await
        }
        Command::Changes { json } => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            review_cmd::list(&settings, *json).await
        }
        Command::Approve { change, comment } => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            review_cmd::act(&settings, "approve", change, comment.clone(), None).await
        }
        Command::RequestChanges { change, comment } => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            let body = Some(comment.clone());
            review_cmd::act(&settings, "request_changes", change, body, None).await
        }
        Command::Comment { change, comment } => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            review_cmd::act(&settings, "comment", change, Some(comment.clone()), None).await
        }
        Command::Merge(args) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            review_cmd::act(&settings, "merge", &args.change, None, Some(args)).await
        }
        Command::Close { change, comment } => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            review_cmd::act(&settings, "close", change, comment.clone(), None).await
        }
        Command::Sync => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            review_cmd::sync(&settings).await
        }
        Command::Outbox {
            json,
            retry,
            dismiss,
        } => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            match (retry, dismiss) {
                (Some(k), _) => review_cmd::outbox_resolve(&settings, k, Resolve::Retry).await,
                (_, Some(k)) => review_cmd::outbox_resolve(&settings, k, Resolve::Dismiss).await,
                _ => review_cmd::outbox_list(&settings, *json).await,
            }
        }
        Command::Release(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            deploy_cmd::release(&settings, cmd).await
        }
        Command::Incident(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            deploy_cmd::incident(&settings, cmd).await
        }
        Command::Deploy(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            deploy_cmd::run(&settings, cmd).await
        }
        Command::Work(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            work_cmd::run(&settings, cmd).await
        }
        Command::Costs(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            spend_cmd::costs(&settings, cmd).await
        }
        Command::Billing(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            spend_cmd::billing(&settings, cmd).await
        }
        Command::Budget(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            spend_cmd::budget(&settings, cmd).await
        }
        Command::Prices(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            spend_cmd::prices(&settings, cmd).await
        }
        Command::Token(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            token_cmd::run(&settings, cmd)
        }
        Command::Audit(cmd) => {
            let (settings, _) = settings(&cli, &ServeArgs::default(), &SourceArgs::default())?;
            audit_cmd::run(&settings, cmd).await
        }
        Command::Doctor { sources, serve } => {
            let (settings, dirs) = settings(&cli, serve, sources)?;
            Ok(doctor::run(&settings, &dirs).await)
        }
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

struct Running {
    url: String,
    server: tokio::task::JoinHandle<Result<(), flightdeck_server::ServerError>>,
}

async fn start_server(
    settings: &Settings,
    store: Store,
    bus: EventBus,
    actions: flightdeck_server::Actions,
) -> Result<Running> {
    let addr = SocketAddr::new(settings.bind, settings.port);
    let listener = flightdeck_server::bind(addr).await?;
    let local = listener.local_addr().context("reading the bound address")?;
    let ui_dir = settings
        .ui_dir
        .clone()
        .or_else(flightdeck_server::default_ui_dir);
    if ui_dir.is_none() {
        eprintln!("note: the UI is not built (run `npm --prefix ui ci && npm --prefix ui run build`); serving the API only");
    }
    let host = if settings.bind.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local.ip().to_string()
    };
    let mut url = format!("http://{host}:{}/", local.port());
    if settings.token.is_some() {
        url.push_str("?token=<your token>");
    }
    let state = AppState {
        store,
        bus,
        ui_dir,
        token: settings.token.clone(),
        policy_file: Some(settings.policy_file.clone()),
        actions: Some(actions),
        // A secret: from the environment only, never the config file.
        webhook_token: std::env::var("FLIGHTDECK_WEBHOOK_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty()),
    };
    let server = tokio::spawn(flightdeck_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    Ok(Running { url, server })
}

/// Acting through the API and in the background: this machine's audit key, the lead's
/// identity, and GitHub with `github_token`.
fn actions(settings: &Settings, github_token: Option<String>) -> flightdeck_server::Actions {
    let (name, email) = flightdeck_core::outbox::lead_identity();
    flightdeck_server::Actions {
        audit_key: audit_cmd::key_path(settings),
        name,
        email,
        github: Some((settings.github_api_url.clone(), github_token)),
        agents: settings.agents.clone(),
        data_dir: settings.data_dir.clone(),
        sources: Some(settings.sources()),
    }
}

/// What a running server does in the background — GitHub refreshed, queued decisions sent,
/// sources rescanned — stopped when dropped.
struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn spawn_background(
    store: &Store,
    bus: &EventBus,
    sources: ingest::Sources,
    actions: &flightdeck_server::Actions,
    billing: Vec<flightdeck_core::billing::CostApi>,
    incident_labels: Vec<String>,
    every: Duration,
) -> Result<Background> {
    let (api_url, token) = actions.github.clone().unwrap_or_default();
    // Dispatches queued before a restart start now; ones whose runner died are marked failed.
    let dispatcher = actions.dispatcher(store, bus)?;
    let resume = tokio::spawn(async move {
        if let Err(e) = dispatcher.resume(now()).await {
            tracing::warn!("resuming dispatches: {e}");
        }
    });
    Ok(Background(vec![
        resume,
        flightdeck_core::github::spawn_periodic(
            store.clone(),
            bus.clone(),
            api_url,
            token,
            incident_labels,
            every,
        ),
        flightdeck_core::outbox::spawn_sender(
            store.clone(),
            bus.clone(),
            actions.audit_key.clone(),
            actions.appliers(store)?,
            Duration::from_secs(15),
        ),
        ingest::spawn_periodic(store.clone(), bus.clone(), sources, every),
        flightdeck_core::billing::spawn_periodic(
            store.clone(),
            bus.clone(),
            billing,
            Duration::from_secs(3_600),
        ),
    ]))
}

async fn demo_cmd(mut settings: Settings, dir: PathBuf, open: bool) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let now = now();
    eprintln!("building the demo workspace in {} …", dir.display());
    let ws = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || demo::build(&dir, now)
    })
    .await
    .context("demo builder task")??;
    // The demo is self-contained: its policy, and its audit key (the one its trail is signed
    // with), live in the workspace, never in the user's dirs.
    settings.policy_file = ws.policy_file();
    settings.data_dir = ws.root.clone();
    settings.agents = ws.agents();
    let (_github, github_url) = demo_github::start(&ws, now).await?;
    settings.github_api_url = github_url;
    let store = Store::open(&settings.database_url).await?;
    let bus = EventBus::new();
    let report = ingest::run(&store, &ws.sources(), Some(&bus), now).await?;
    demo::seed_unsourced(&store, &ws, now).await?;
    // The vendors' cost reports come from local fakes too, with the demo's keys, never yours.
    let (_billing_fake, billing) = demo_github::start_billing(&store, now).await?;
    eprintln!(
        "loaded {} repos, {} commits, {} agent runs ({} unreadable log lines skipped) in {:.1} s",
        report.repos,
        report.new_commits,
        report.runs,
        report.skipped_lines,
        started.elapsed().as_secs_f64()
    );
    // The demo's GitHub is the local fake: it gets no token, least of all the user's.
    let mut actions = actions(&settings, None);
    actions.sources = Some(ws.sources());
    let running = start_server(&settings, store.clone(), bus.clone(), actions.clone()).await?;
    println!("Flightdeck demo: {}", running.url);
    println!("  workspace: {}", ws.root.display());
    println!("  database:  {}", store.target().display_url());
    if open {
        open_desktop(&settings, &running.url);
    }
    let _watch = watch_sources(&store, &bus, ws.sources());
    let _background = spawn_background(
        &store,
        &bus,
        ws.sources(),
        &actions,
        billing,
        settings.incident_labels.clone(),
        Duration::from_secs(60),
    )?;
    running.server.await.context("server task")??;
    Ok(ExitCode::SUCCESS)
}

async fn serve_cmd(settings: Settings, rescan_every: Duration) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let bus = EventBus::new();
    let mut sources = settings.sources();
    // Repos added with `flightdeck repo add` are watched live too.
    for p in store.watched_repos().await? {
        let p = PathBuf::from(p);
        if !sources.repos.contains(&p) {
            sources.repos.push(p);
        }
    }
    let report = ingest::run(&store, &sources, Some(&bus), now()).await?;
    for p in report.problems.iter().take(10) {
        eprintln!("warning: {p}");
    }
    // The GitHub token is looked up once (it may mean running `gh auth token`).
    let mut actions = actions(
        &settings,
        flightdeck_core::github::token(&settings.github_api_url),
    );
    actions.sources = Some(sources.clone());
    let running = start_server(&settings, store.clone(), bus.clone(), actions.clone()).await?;
    println!("Flightdeck: {}", running.url);
    let _watch = watch_sources(&store, &bus, sources.clone());
    let billing = flightdeck_core::billing::configured(&settings);
    let _background = spawn_background(
        &store,
        &bus,
        sources,
        &actions,
        billing,
        settings.incident_labels.clone(),
        rescan_every,
    )?;
    running.server.await.context("server task")??;
    Ok(ExitCode::SUCCESS)
}

/// Watches the sources live; the periodic rescan stays as the safety net for missed events.
fn watch_sources(
    store: &Store,
    bus: &EventBus,
    sources: ingest::Sources,
) -> Option<watch::WatchHandle> {
    match watch::spawn(store.clone(), bus.clone(), sources) {
        Ok(h) => {
            for p in &h.problems {
                eprintln!("warning: not watching {p}");
            }
            Some(h)
        }
        Err(e) => {
            eprintln!("warning: live updates are off ({e}); sources are rescanned periodically");
            None
        }
    }
}

/// Opens the desktop window when a display exists and the desktop binary was built beside this
/// one; otherwise says how to open the UI.
fn open_desktop(settings: &Settings, url: &str) {
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let desktop = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("flightdeck-desktop")))
        .filter(|p| p.is_file());
    match (has_display, desktop) {
        (true, Some(bin)) => {
            match std::process::Command::new(&bin)
                .env("FLIGHTDECK_DATABASE_URL", &settings.database_url)
                .env("FLIGHTDECK_POLICY", &settings.policy_file)
                .env("FLIGHTDECK_GITHUB_API", &settings.github_api_url)
                .env("FLIGHTDECK_AUDIT_KEY", audit_cmd::key_path(settings))
                .spawn()
            {
                Ok(_) => println!("  desktop window: opened ({})", bin.display()),
                Err(e) => eprintln!(
                    "note: could not start {}: {e}; open {url} in a browser",
                    bin.display()
                ),
            }
        }
        (false, _) => println!("  no display: open {url} in a browser"),
        (true, None) => println!(
            "  desktop app not built (cargo build -p flightdeck-desktop); open {url} in a browser"
        ),
    }
}
