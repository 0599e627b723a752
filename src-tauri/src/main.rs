//! Flightdeck's desktop shell: wiring only. It builds the lead's context and starts the same
//! background runtime as `flightdeck serve` (both from `flightdeck_app`), mounts the server's
//! axum router behind the `flightdeck://` URI scheme (`scheme`), forwards the core's change
//! events to the webview, and keeps the tray and notifications (`tray`) current.
//!
//! Why a custom scheme rather than an embedded loopback server: nothing listens on a port, so
//! no other local process or web page can reach the API, and no per-launch secret is needed.
//! The cost is that server-sent events cannot stream through the scheme; the shell forwards
//! the same events as Tauri events instead (`flightdeck-changed`), and the UI's API module picks
//! the transport.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod scheme;
mod tray;

use flightdeck_app::{Lead, Runtime, RuntimeOptions};
use flightdeck_core::config::{self, Overrides};
use flightdeck_core::model::events::EventBus;
use flightdeck_core::store::Store;
use flightdeck_core::views;
use flightdeck_server::AppState;
use tauri::Emitter;

fn main() {
    // Before any thread: libgit2's options are process globals.
    flightdeck_core::sources::git::libgit2_for_reading();
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let overrides = Overrides {
        database_url: std::env::var("FLIGHTDECK_DATABASE_URL").ok(),
        ..Default::default()
    };
    let config_file = std::env::var_os("FLIGHTDECK_CONFIG").map(Into::into);
    let (settings, _) = config::load(config_file, overrides)?;
    let store = tauri::async_runtime::block_on(Store::open(&settings.database_url))?;
    let bus = EventBus::new();
    let lead = Lead::from_settings(&settings);
    let runtime_opts = RuntimeOptions::from_settings(&settings);
    let router = flightdeck_server::router(AppState {
        store: store.clone(),
        bus: bus.clone(),
        ui_dir: None,
        access: flightdeck_server::Access::desktop(),
        token: None,
        secure_cookies: false,
        tls_ca: None,
        tls_fingerprint: None,
        policy_file: Some(settings.policy_file.clone()),
        lead: Some(lead.clone()),
        // Nothing outside the app can reach its API: no webhook.
        webhook_token: None,
        recent: Default::default(),
        notifier: runtime_opts.notifier.clone(),
    });

    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .register_asynchronous_uri_scheme_protocol("flightdeck", move |_ctx, request, responder| {
            let router = router.clone();
            tauri::async_runtime::spawn(async move {
                responder.respond(scheme::route(router, request).await);
            });
        })
        .setup(move |app| {
            let mut tray = tray::Tray::build(app)?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let mut events = bus.subscribe();
                if let Ok(v) = views::inbox(&store).await {
                    tray.show(&v.items);
                }
                // The background work `flightdeck serve` runs, started after the window is up.
                let _runtime = match Runtime::start(&lead, &store, &bus, runtime_opts).await {
                    Ok(r) => {
                        for w in &r.warnings {
                            eprintln!("warning: {w}");
                        }
                        Some(r)
                    }
                    Err(e) => {
                        eprintln!("warning: background work is off: {e}");
                        None
                    }
                };
                while let Ok(event) = events.recv().await {
                    let _ = handle.emit("flightdeck-changed", &event);
                    if let Ok(v) = views::inbox(&store).await {
                        tray.show(&v.items);
                    }
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"))?;
    Ok(())
}
