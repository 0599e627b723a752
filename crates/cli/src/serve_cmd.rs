//! `flightdeck serve`: wiring only. The lead's context and the background work come from
//! `flightdeck_app` (the same the desktop shell starts); this file binds the listener and says
//! where the UI is.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use flightdeck_app::{Lead, Runtime, RuntimeOptions};
use flightdeck_core::config::Settings;
use flightdeck_core::model::events::EventBus;
use flightdeck_core::store::Store;
use flightdeck_server::AppState;

/// Scans the sources, starts the background work and serves the UI and API until Ctrl-C.
pub async fn serve(settings: Settings, lead: Lead, rescan_every: Duration) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let bus = EventBus::new();
    let opts = RuntimeOptions {
        rescan_every,
        ..RuntimeOptions::from_settings(&settings)
    };
    let runtime = Runtime::start(&lead, &store, &bus, opts).await?;
    for w in runtime.warnings.iter().take(10) {
        eprintln!("warning: {w}");
    }
    let (url, server) = start_server(&settings, store, bus, lead).await?;
    println!("Flightdeck: {url}");
    server.await.context("server task")??;
    drop(runtime);
    Ok(ExitCode::SUCCESS)
}

pub(crate) type ServerTask = tokio::task::JoinHandle<Result<(), flightdeck_server::ServerError>>;

/// Binds the configured address (port 0: any free one) and serves until Ctrl-C; returns the
/// URL to open (with the port actually bound) and the server's task.
pub(crate) async fn start_server(
    settings: &Settings,
    store: Store,
    bus: EventBus,
    lead: Lead,
) -> Result<(String, ServerTask)> {
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
        access: flightdeck_server::Access {
            hosts: settings.hosts.clone(),
            ..Default::default()
        },
        token: settings.token.clone(),
        policy_file: Some(settings.policy_file.clone()),
        lead: Some(lead),
        // A secret: from the environment only, never the config file.
        webhook_token: std::env::var("FLIGHTDECK_WEBHOOK_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty()),
    };
    let server = tokio::spawn(flightdeck_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    Ok((url, server))
}
