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
    crate::output::keep_going();
    let store = Store::open(&settings.database_url).await?;
    let bus = EventBus::new();
    // Looking up keys may wait on the keyring (an unlock prompt): off the async threads.
    let opts = {
        let s = settings.clone();
        tokio::task::spawn_blocking(move || RuntimeOptions::from_settings(&s))
            .await
            .context("looking up the configured keys")?
    };
    let opts = RuntimeOptions {
        rescan_every,
        ..opts
    };
    let notifier = opts.notifier.clone();
    let runtime = Runtime::start(&lead, &store, &bus, opts).await?;
    for w in runtime.warnings.iter().take(10) {
        eprintln!("warning: {w}");
    }
    let (url, server) = start_server(&settings, store, bus, lead, notifier).await?;
    outln!("Flightdeck: {url}");
    outln!("  {SIGN_IN_NOTE}");
    server.await.context("server task")??;
    drop(runtime);
    Ok(ExitCode::SUCCESS)
}

/// Said under the printed link: what it is and how to get another.
pub(crate) const SIGN_IN_NOTE: &str =
    "(a sign-in link: it works once, within 10 minutes; `flightdeck login` prints another)";

pub(crate) type ServerTask = tokio::task::JoinHandle<Result<(), flightdeck_server::ServerError>>;

/// Binds the configured address (port 0: any free one) and serves until Ctrl-C; returns the
/// sign-in link to open (the port actually bound, a one-time login code) and the server's task.
pub(crate) async fn start_server(
    settings: &Settings,
    store: Store,
    bus: EventBus,
    lead: Lead,
    notifier: Option<std::sync::Arc<flightdeck_core::notify::Notifier>>,
) -> Result<(String, ServerTask)> {
    let tls = flightdeck_server::tls::for_settings(settings)?;
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
    // The link acts as this instance's user wherever it is used: sessions live in the store,
    // which a team's instances share.
    let code = flightdeck_core::domain::access::issue_login_code_for(
        &store,
        Some(&lead.person_key()),
        crate::now(),
    )
    .await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = base_url(scheme, local.ip(), local.port());
    let url = crate::access_cmd::login_url(&base, &code);
    if let Some(t) = &tls {
        outln!("  TLS certificate SHA-256: {}", t.fingerprint);
        if t.ca_pem.is_some() {
            outln!(
                "  made here: a phone trusts it once it installs {base}tls/ca.pem (README: from a phone)"
            );
        }
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
        secure_cookies: settings.transport.secure(),
        tls_ca: tls.as_ref().and_then(|t| t.ca_pem.clone()),
        tls_fingerprint: tls.as_ref().map(|t| t.fingerprint.clone()),
        policy_file: Some(settings.policy_file.clone()),
        lead: Some(lead),
        // A secret: from the environment only, never the config file.
        webhook_token: std::env::var("FLIGHTDECK_WEBHOOK_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty()),
        recent: Default::default(),
        notifier,
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let server = match tls {
        Some(t) => tokio::spawn(flightdeck_server::serve_tls(listener, t, state, shutdown)),
        None => tokio::spawn(flightdeck_server::serve(listener, state, shutdown)),
    };
    Ok((url, server))
}

/// Where a server bound to `ip:port` is reached from this machine (any address: loopback).
pub(crate) fn base_url(scheme: &str, ip: std::net::IpAddr, port: u16) -> String {
    let ip = if ip.is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        ip
    };
    // SocketAddr brackets an IPv6 address, as a URL needs.
    format!("{scheme}://{}/", SocketAddr::new(ip, port))
}
