//! `flightdeck demo`: builds the demo workspace (real repos, agent logs, a local fake GitHub,
//! fake vendor billing and a fake GrowthBook), loads it, and serves it with the same runtime
//! as `serve`; opens the desktop window when asked and possible.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use flightdeck_app::lead::GitHubAccess;
use flightdeck_app::{Lead, Runtime, RuntimeOptions};
use flightdeck_core::config::Settings;
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
    let (_github, github_url) = demo_github::start(&ws, now).await?;
    settings.github_api_url = github_url;
    let store = Store::open(&settings.database_url).await?;
    let bus = EventBus::new();
    let report =
        flightdeck_core::domain::ingest::run(&store, &ws.sources(), Some(&bus), now).await?;
    demo::seed_unsourced_but_experiments(&store, &ws, now).await?;
    // The vendors' cost reports and GrowthBook's experiments come from local fakes too, with
    // the demo's keys, never yours.
    let (_billing_fake, billing) = demo_github::start_billing(&store, now).await?;
    let (_growthbook_fake, growthbook) = demo_github::start_growthbook(&store, now).await?;
    eprintln!(
        "loaded {} repos, {} commits, {} agent runs ({} unreadable log lines skipped) in {:.1} s",
        report.repos,
        report.new_commits,
        report.runs,
        report.skipped_lines,
        started.elapsed().as_secs_f64()
    );
    let mut lead = Lead::from_settings(&settings);
    // The demo's GitHub is the local fake: it gets no token, least of all the user's.
    lead.github = Some(GitHubAccess::with_token(&settings.github_api_url, None));
    // Decisions go back to the demo's GrowthBook with its key.
    lead.growthbook = Some(flightdeck_app::lead::GrowthBookAccess {
        api_url: growthbook.base().to_string(),
        key: demo_github::GROWTHBOOK_KEY.into(),
    });
    lead.sources = Some(ws.sources());
    let runtime = Runtime::start(
        &lead,
        &store,
        &bus,
        RuntimeOptions {
            // Scanned and seeded above, in that order.
            first_scan: false,
            billing,
            growthbook: Some(growthbook),
            ..RuntimeOptions::from_settings(&settings)
        },
    )
    .await?;
    for w in &runtime.warnings {
        eprintln!("warning: {w}");
    }
    let database = store.target().display_url();
    let (url, server) = start_server(&settings, store, bus, lead).await?;
    outln!("Flightdeck demo: {url}");
    outln!("  {}", crate::serve_cmd::SIGN_IN_NOTE);
    outln!("  workspace: {}", ws.root.display());
    outln!("  database:  {database}");
    if open {
        open_desktop(&settings, &url);
    }
    server.await.context("server task")??;
    drop(runtime);
    Ok(ExitCode::SUCCESS)
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
                .env(
                    "FLIGHTDECK_AUDIT_KEY",
                    flightdeck_core::model::audit::key_path(&settings.data_dir),
                )
                .spawn()
            {
                Ok(_) => outln!("  desktop window: opened ({})", bin.display()),
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
}
