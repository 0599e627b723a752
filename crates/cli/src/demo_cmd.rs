//! `flightdeck demo`: builds the demo workspace (real repos, agent logs, a local fake GitHub,
//! fake vendor billing and a fake GrowthBook), loads it, and serves it with the same runtime
//! as `serve`; opens the desktop window when asked and possible.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use flightdeck_app::{Lead, Runtime, RuntimeOptions};
use flightdeck_core::config::{demo_keys, Settings};
use flightdeck_core::demo;
use flightdeck_core::model::events::EventBus;
use flightdeck_core::store::Store;

use crate::demo_github;
use crate::serve_cmd::start_server;

/// Builds the demo workspace in `dir`, loads it and serves it until Ctrl-C.
pub async fn run(mut settings: Settings, dir: PathBuf, open: bool) -> Result<ExitCode> {
    crate::output::keep_going();
    let started = std::time::Instant::now();
    let now = flightdeck_app::now();
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
    // Every request the demo's fakes answer, and whether it carried a credential that is not
    // the demo's (the desktop window's included): see `fakehub::journal`.
    fakehub::journal::record_to(
        ws.root.join(REQUEST_LOG),
        &[
            demo_keys::GROWTHBOOK,
            demo_keys::ANTHROPIC_ADMIN,
            demo_keys::OPENAI_ADMIN,
            demo_keys::NOTIFY_SECRET,
        ],
    );
    let (_github, github_url) = demo_github::start(&ws, now).await?;
    settings.github_api_url = github_url;
    let store = Store::open(&settings.database_url).await?;
    let bus = EventBus::new();
    let report =
        flightdeck_core::domain::ingest::run(&store, &ws.sources(), Some(&bus), now).await?;
    demo::seed_unsourced_but_experiments(&store, &ws, now).await?;
    // The vendors' cost reports and GrowthBook's experiments come from local fakes too, with
    // the demo's keys, never yours.
    let (_billing_fake, billing_url) = demo_github::start_billing(&store, now).await?;
    let (_growthbook_fake, growthbook) = demo_github::start_growthbook(&store, now).await?;
    eprintln!(
        "loaded {} repos, {} commits, {} agent runs ({} unreadable log lines skipped) in {:.1} s",
        report.repos,
        report.new_commits,
        report.runs,
        report.skipped_lines,
        started.elapsed().as_secs_f64()
    );
    settings.anthropic_api_url = billing_url.clone();
    settings.openai_api_url = billing_url;
    settings.growthbook_api_url = growthbook.base().to_string();
    settings.demo = true;
    // Notifications go to local receivers: a signed webhook and an ntfy server, sent what the
    // demo's inbox holds (the first ten singly, the rest in a digest).
    let (_receivers, notify) = demo_github::start_receivers(&ws.root).await?;
    settings.notify = notify;
    for name in settings.notify.channels.keys() {
        flightdeck_core::notify::send_what_is_there(&store, &settings.notify, name, now).await?;
    }
    // A demo's lead: no token to its GitHub, the demo's key to its GrowthBook, and its own
    // signing key even where FLIGHTDECK_AUDIT_KEY names the user's (the window's is the same).
    let mut lead = Lead::from_settings(&settings);
    lead.sources = Some(ws.sources());
    lead.audit_key = ws.root.join("audit-key");
    // The demo's settings give its fakes with the demo's keys (as the window's will).
    let opts = RuntimeOptions {
        // Scanned and seeded above, in that order.
        first_scan: false,
        ..RuntimeOptions::from_settings(&settings)
    };
    let notifier = opts.notifier.clone();
    let runtime = Runtime::start(&lead, &store, &bus, opts).await?;
    for w in &runtime.warnings {
        eprintln!("warning: {w}");
    }
    let database = store.target().display_url();
    let (url, server) = start_server(&settings, store, bus, lead, notifier).await?;
    outln!("Flightdeck demo: {url}");
    outln!("  {}", crate::serve_cmd::SIGN_IN_NOTE);
    outln!("  workspace: {}", ws.root.display());
    outln!("  database:  {database}");
    if open {
        open_desktop(&settings, &ws, &url)?;
    }
    server.await.context("server task")??;
    drop(runtime);
    Ok(ExitCode::SUCCESS)
}

/// The demo's request journal, in its workspace.
pub const REQUEST_LOG: &str = "fake-requests.log";

/// The demo's settings as a config file in its workspace (`demo = true`, its database, sources,
/// agents and fakes), for the desktop window to start from instead of the user's.
fn write_config(settings: &Settings, ws: &demo::DemoWorkspace) -> Result<PathBuf> {
    let path = ws.root.join("flightdeck.toml");
    let paths =
        |ps: &[PathBuf]| -> Vec<String> { ps.iter().map(|p| p.display().to_string()).collect() };
    let mut file = toml::Table::new();
    file.insert("demo".into(), true.into());
    file.insert(
        "data_dir".into(),
        settings.data_dir.display().to_string().into(),
    );
    let mut table = |name: &str, entries: Vec<(&str, toml::Value)>| {
        let t: toml::Table = entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        file.insert(name.into(), t.into());
    };
    table(
        "database",
        vec![("url", settings.database_url.clone().into())],
    );
    table(
        "sources",
        vec![
            ("repos", paths(&ws.repos).into()),
            (
                "claude_dirs",
                paths(std::slice::from_ref(&ws.claude_dir)).into(),
            ),
            ("codex_home", ws.codex_home.display().to_string().into()),
            ("gemini_dirs", toml::Value::Array(vec![])),
            ("generic_dirs", toml::Value::Array(vec![])),
        ],
    );
    table(
        "github",
        vec![("api_url", settings.github_api_url.clone().into())],
    );
    table(
        "billing",
        vec![
            (
                "anthropic_api_url",
                settings.anthropic_api_url.clone().into(),
            ),
            ("openai_api_url", settings.openai_api_url.clone().into()),
        ],
    );
    table(
        "growthbook",
        vec![("api_url", settings.growthbook_api_url.clone().into())],
    );
    file.insert(
        "notify".into(),
        toml::Value::try_from(&settings.notify).context("the demo's notifications as TOML")?,
    );
    file.insert(
        "agents".into(),
        toml::Value::try_from(&settings.agents).context("the demo's agents as TOML")?,
    );
    let text = format!(
        "# Written by `flightdeck demo`: the demo's own settings, for the window it opens.\n{}",
        toml::to_string(&file).context("the demo's config as TOML")?
    );
    // Only the user may read it: a database URL given with `--database-url` may hold a password.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        // A file left by an earlier demo keeps its mode through `open`: set it.
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private", path.display()))?;
        }
    }
    std::io::Write::write_all(
        &mut opts
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?,
        text.as_bytes(),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Opens the desktop window on the demo's settings only (its config file, nothing of the
/// user's) when a display exists and the desktop binary was built beside this one; otherwise
/// says how to open the UI.
fn open_desktop(settings: &Settings, ws: &demo::DemoWorkspace, url: &str) -> Result<()> {
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let desktop = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("flightdeck-desktop")))
        .filter(|p| p.is_file());
    match (has_display, desktop) {
        (true, Some(bin)) => {
            let config = write_config(settings, ws)?;
            let mut cmd = std::process::Command::new(&bin);
            // Flightdeck's own variables would override the demo's file. Credentials are left:
            // the file's `demo = true` is what keeps them unread (the test proves it with them
            // set).
            for (var, _) in std::env::vars_os() {
                if var.to_str().is_some_and(|v| v.starts_with("FLIGHTDECK_")) {
                    cmd.env_remove(var);
                }
            }
            // Its output is its own (warnings go to stderr): it never holds the demo's stdout.
            cmd.stdout(std::process::Stdio::null());
            cmd.env("FLIGHTDECK_CONFIG", &config);
            match cmd.spawn() {
                Ok(child) => {
                    fakehub::journal::note(&format!("desktop window started (pid {})", child.id()));
                    outln!("  desktop window: opened ({})", bin.display())
                }
                Err(e) => eprintln!(
                    "note: could not start {}: {e}; open {url} in a browser",
                    bin.display()
                ),
            }
        }
        (false, _) => outln!("  no display: open {url} in a browser"),
        (true, None) => outln!(
            "  desktop app not built (cargo build -p flightdeck-desktop); open {url} in a browser"
        ),
    }
    Ok(())
}
