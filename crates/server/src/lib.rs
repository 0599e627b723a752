//! Flightdeck's HTTP API. One axum `Router` serves the JSON views (`/api/...`), live updates as
//! server-sent events (`/api/events`), SVG charts rendered with plotters (`/api/charts/*.svg`)
//! and the built UI. The same router is mounted by the desktop shell through a custom URI scheme,
//! so browser and desktop run one API.

mod auth;
pub mod cache;
mod charts;
mod error;
mod guard;
pub mod pairing;
pub mod report;
mod routes;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use flightdeck_app::Lead;
use flightdeck_core::domain::access::PairingStarted;
use flightdeck_core::model::events::EventBus;
use flightdeck_core::store::Store;

pub use auth::cookie_name;
pub use error::{ApiError, ServerError};
pub use guard::Access;
pub use routes::router;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub bus: EventBus,
    /// The built UI (`ui/dist`); `None` serves a page that says how to build it.
    pub ui_dir: Option<PathBuf>,
    /// The hosts and page origins requests may name besides the server's own (see `guard`).
    pub access: Access,
    /// A bearer token scripts may use instead of a session (`Authorization: Bearer`); browsers
    /// sign in with a login code (see `auth`).
    pub token: Option<String>,
    /// Session cookies are marked Secure (served over TLS).
    pub secure_cookies: bool,
    /// The local CA's certificate (PEM) when `serve --tls` made the certificate: offered at
    /// `/tls/ca.pem` for a phone to install.
    pub tls_ca: Option<String>,
    /// The SHA-256 fingerprint of the certificate served (under TLS): printed by `serve`,
    /// shown on the pairing panel so the lead can compare what the phone sees.
    pub tls_fingerprint: Option<String>,
    /// The merge policy file verdicts are judged by (`None`: built-in defaults).
    pub policy_file: Option<PathBuf>,
    /// Who acts through this server, with what (built once by the front end); `None`:
    /// read-only.
    pub lead: Option<Lead>,
    /// What a pipeline posting to `/api/deploys` must present; `None`: the webhook is off.
    pub webhook_token: Option<String>,
    /// What this server remembers for a minute or so (see [`Recent`]).
    pub recent: Recent,
    /// Notifications out, as the runtime runs them (`None`: no `[notify]` channel).
    pub notifier: Option<std::sync::Arc<flightdeck_core::notify::Notifier>>,
}

/// What a server remembers for a short while, in memory (a phone talks to one server):
/// failed sign-ins and pairings (to hold back guessing), pairings between their two steps,
/// and the nonces of device-signed requests (to refuse replays). Clones share it.
#[derive(Clone)]
pub struct Recent {
    /// Failed sign-ins (`/login`).
    pub(crate) failures: Arc<Mutex<std::collections::VecDeque<i64>>>,
    /// Failed pairings: a budget of their own, so junk sent to `/pair` cannot lock out sign-in.
    pub(crate) pair_failures: Arc<Mutex<std::collections::VecDeque<i64>>>,
    pub(crate) exchanges: Arc<Mutex<HashMap<String, (PairingStarted, i64)>>>,
    pub(crate) nonces: Arc<Mutex<HashMap<String, i64>>>,
    /// When this server started (ms): a signed request from before then is refused, since
    /// the nonces it might repeat were forgotten with the last process.
    pub(crate) started_ms: i64,
    /// The views' answers while the data under them is unchanged (see `cache`).
    pub views: cache::ViewCache,
}

impl Default for Recent {
    fn default() -> Self {
        Self {
            failures: Default::default(),
            pair_failures: Default::default(),
            exchanges: Default::default(),
            nonces: Default::default(),
            started_ms: chrono::Utc::now().timestamp_millis(),
            views: Default::default(),
        }
    }
}

/// Binds the listener, turning "address in use" into an error that names the port.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            ServerError::PortInUse { addr }
        } else {
            ServerError::Bind { addr, source }
        }
    })
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)
}

/// Serves HTTPS with `tls` until `shutdown` resolves.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: tls::Tls,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listener = tls::TlsListener::new(listener, tls.config).map_err(ServerError::Serve)?;
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)
}

/// The built UI: where a package installs it beside the binary (`/usr/bin/flightdeck` →
/// `/usr/share/flightdeck/ui`), else `ui/dist` of the checkout this was built from.
pub fn default_ui_dir() -> Option<PathBuf> {
    let installed = std::env::current_exe().ok().and_then(|exe| {
        exe.parent()?
            .parent()
            .map(|p| p.join("share/flightdeck/ui"))
    });
    let checkout = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/dist"));
    installed
        .into_iter()
        .chain([checkout])
        .find(|p| p.join("index.html").is_file())
        .map(|p| p.canonicalize().unwrap_or(p))
}
