//! Flightdeck's desktop shell. It owns no logic: it opens the store with the same settings as
//! the CLI, mounts the server's axum router behind the `flightdeck://` URI scheme (no open
//! port), forwards the core's change events to the webview, keeps a tray icon with the inbox
//! count, and raises a desktop notification when a session starts waiting for its user (once
//! per wait; `flightdeck_core::alerts` decides which).
//!
//! Why a custom scheme rather than an embedded loopback server: nothing listens on a port, so
//! no other local process or web page can reach the API, and no per-launch secret is needed.
//! The cost is that server-sent events cannot stream through the scheme; the shell forwards
//! the same events as Tauri events instead (`flightdeck-changed`), and the UI's API module picks
//! the transport.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::time::Duration;

use axum::body::Body;
use flightdeck_core::alerts::Alerts;
use flightdeck_core::config::{self, Overrides};
use flightdeck_core::events::EventBus;
use flightdeck_core::store::Store;
use flightdeck_core::{ingest, views};
use flightdeck_server::AppState;
use http_body_util::BodyExt;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_notification::NotificationExt;
use tower::ServiceExt;

/// The page's origin inside the webview; the only origin allowed to read API responses.
const APP_ORIGIN: &str = "tauri://localhost";

fn main() {
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
    let identity = flightdeck_core::outbox::lead_identity();
    let github_token = flightdeck_core::github::token(&settings.github_api_url);
    let actions = flightdeck_server::Actions {
        audit_key: flightdeck_core::audit::key_path(&settings.data_dir),
        name: identity.0,
        email: identity.1,
        github: Some((settings.github_api_url.clone(), github_token.clone())),
        agents: settings.agents.clone(),
        data_dir: settings.data_dir.clone(),
        sources: Some(settings.sources()),
    };
    let appliers = actions.appliers(&store)?;
    let github_url = settings.github_api_url.clone();
    let incident_labels = settings.incident_labels.clone();
    // Vendors with an admin key here: their cost reports, hourly.
    let billing = flightdeck_core::billing::configured(&settings);
    let state = AppState {
        store: store.clone(),
        bus: bus.clone(),
        ui_dir: None,
        token: None,
        policy_file: Some(settings.policy_file.clone()),
        actions: Some(actions.clone()),
        // Nothing outside the app can reach its API: no webhook.
        webhook_token: None,
    };
    let router = flightdeck_server::router(state);
    let sources = settings.sources();

    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .register_asynchronous_uri_scheme_protocol("flightdeck", move |_ctx, request, responder| {
            let router = router.clone();
            tauri::async_runtime::spawn(async move {
                responder.respond(route(router, request).await);
            });
        })
        .setup(move |app| {
            let inbox_item = MenuItem::with_id(app, "inbox", "Inbox", true, None::<&str>)?;
            let quit = MenuItem::with_id(app, "quit", "Quit Flightdeck", true, None::<&str>)?;
            let menu = Menu::with_items(app, &[&inbox_item, &quit])?;
            let mut tray = TrayIconBuilder::with_id("main")
                .menu(&menu)
                .tooltip("Flightdeck")
                .on_menu_event(|app, event| match event.id.as_ref() {
                    "quit" => app.exit(0),
                    "inbox" => {
                        if let Some(w) = app.get_webview_window("main") {
                            let _ = w.show();
                            let _ = w.set_focus();
                            let _ = w.eval("location.hash = '#/inbox'");
                        }
                    }
                    _ => {}
                });
            if let Some(icon) = app.default_window_icon() {
                tray = tray.icon(icon.clone());
            }
            // A desktop without a tray host still gets the window.
            let tray = tray
                .build(app)
                .map_err(|e| eprintln!("warning: no tray icon: {e}"))
                .ok();

            let handle = app.handle().clone();
            let store = store.clone();
            let bus = bus.clone();
            tauri::async_runtime::spawn(async move {
                let mut events = bus.subscribe();
                let started = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let mut alerts = Alerts::since(started);
                let mut refresh = |items: &[views::InboxItem]| {
                    let n = items.len();
                    let _ = inbox_item.set_text(format!("Inbox: {n}"));
                    if let Some(t) = &tray {
                        let _ = t.set_tooltip(Some(format!("Flightdeck — {n} in your inbox")));
                        let _ = t.set_title(Some(n.to_string()));
                    }
                    for item in alerts.update(items) {
                        notify(&handle, &item);
                    }
                };
                if let Ok(v) = views::inbox(&store).await {
                    refresh(&v.items);
                }
                // Repos added with `flightdeck repo add` are watched live too.
                let mut sources = sources;
                for p in store.watched_repos().await.unwrap_or_default() {
                    let p = std::path::PathBuf::from(p);
                    if !sources.repos.contains(&p) {
                        sources.repos.push(p);
                    }
                }
                if let Err(e) = ingest::run(&store, &sources, Some(&bus), chrono_now()).await {
                    eprintln!("warning: ingest failed: {e}");
                }
                let _watch =
                    flightdeck_core::watch::spawn(store.clone(), bus.clone(), sources.clone())
                        .map_err(|e| eprintln!("warning: live updates are off: {e}"))
                        .ok();
                let _rescan = ingest::spawn_periodic(
                    store.clone(),
                    bus.clone(),
                    sources,
                    Duration::from_secs(60),
                );
                // Pull requests refreshed, queued decisions sent, in the background.
                let _forge = flightdeck_core::github::spawn_periodic(
                    store.clone(),
                    bus.clone(),
                    github_url,
                    github_token,
                    incident_labels,
                    Duration::from_secs(60),
                );
                let _sender = flightdeck_core::outbox::spawn_sender(
                    store.clone(),
                    bus.clone(),
                    actions.audit_key.clone(),
                    appliers,
                    Duration::from_secs(15),
                );
                let _billing = flightdeck_core::billing::spawn_periodic(
                    store.clone(),
                    bus.clone(),
                    billing,
                    Duration::from_secs(3_600),
                );
                while let Ok(event) = events.recv().await {
                    let _ = handle.emit("flightdeck-changed", &event);
                    if let Ok(v) = views::inbox(&store).await {
                        refresh(&v.items);
                    }
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"))?;
    Ok(())
}

/// One desktop notification for an inbox item. A desktop without a notification service
/// (no D-Bus session, a bare X server) only loses the popup: the item is in the inbox.
fn notify(app: &AppHandle, item: &views::InboxItem) {
    if let Err(e) = app
        .notification()
        .builder()
        .title(&item.title)
        .body(&item.detail)
        .show()
    {
        eprintln!("warning: desktop notification not shown: {e}");
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One webview request through the axum router, answered with the app's origin allowed.
async fn route(
    router: axum::Router,
    request: tauri::http::Request<Vec<u8>>,
) -> tauri::http::Response<Vec<u8>> {
    let (parts, body) = request.into_parts();
    let response = match router
        .oneshot(axum::http::Request::from_parts(parts, Body::from(body)))
        .await
    {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (mut parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => {
            parts.status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            format!("{{\"error\":{{\"code\":\"body\",\"message\":\"{e}\"}}}}").into_bytes()
        }
    };
    parts.headers.insert(
        axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        axum::http::HeaderValue::from_static(APP_ORIGIN),
    );
    tauri::http::Response::from_parts(parts, bytes)
}
