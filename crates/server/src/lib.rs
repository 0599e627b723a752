//! Flightdeck's HTTP API. One axum `Router` serves the JSON views (`/api/...`), live updates as
//! server-sent events (`/api/events`), SVG charts rendered with plotters (`/api/charts/*.svg`)
//! and the built UI. The same router is mounted by the desktop shell through a custom URI scheme,
//! so browser and desktop run one API.

mod charts;
mod error;
pub mod report;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;

use flightdeck_core::events::EventBus;
use flightdeck_core::store::Store;

pub use error::{ApiError, ServerError};
pub use routes::router;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub bus: EventBus,
    /// The built UI (`ui/dist`); `None` serves a page that says how to build it.
    pub ui_dir: Option<PathBuf>,
    /// When set, every `/api` request must carry it (`Authorization: Bearer` or `?token=`).
    pub token: Option<String>,
    /// The merge policy file verdicts are judged by (`None`: built-in defaults).
    pub policy_file: Option<PathBuf>,
    /// Who acts through this server and with which audit key; `None`: read-only.
    pub actions: Option<Actions>,
    /// What a pipeline posting to `/api/deploys` must present; `None`: the webhook is off.
    pub webhook_token: Option<String>,
}

/// What acting (approve, merge, …) through the API needs.
#[derive(Clone)]
pub struct Actions {
    pub audit_key: PathBuf,
    pub name: String,
    pub email: String,
    /// GitHub's API URL and token, for decisions on pull requests (token kept in memory only).
    pub github: Option<(String, Option<String>)>,
    /// The configured agents work can be dispatched to.
    pub agents: std::collections::BTreeMap<String, flightdeck_core::work::AgentConfig>,
    /// Where dispatch worktrees and output logs go.
    pub data_dir: PathBuf,
    /// The agent sources a finished dispatch's session is read from.
    pub sources: Option<flightdeck_core::ingest::Sources>,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Actions")
            .field("audit_key", &self.audit_key)
            .field("name", &self.name)
            .finish()
    }
}

impl Actions {
    /// A dispatcher acting as this lead, publishing progress on `bus`.
    pub fn dispatcher(
        &self,
        store: &Store,
        bus: &EventBus,
    ) -> Result<flightdeck_core::dispatch::Dispatcher, flightdeck_core::Error> {
        let key = flightdeck_core::audit::AuditKey::load_or_create(&self.audit_key)?;
        let d = flightdeck_core::dispatch::Dispatcher::new(
            store.clone(),
            self.agents.clone(),
            &self.data_dir,
            std::sync::Arc::new(key),
            &self.name,
        )
        .with_bus(bus.clone());
        Ok(match &self.sources {
            Some(s) => d.with_sources(s.clone()),
            None => d,
        })
    }

    /// Appliers for local branches and (when configured) GitHub.
    pub fn appliers(
        &self,
        store: &Store,
    ) -> Result<flightdeck_core::outbox::Appliers, flightdeck_core::github::GitHubError> {
        let github = match &self.github {
            Some((url, token)) => Some(flightdeck_core::github::GitHubApplier {
                gh: flightdeck_core::github::GitHub::new(url, token.clone())?,
            }),
            None => None,
        };
        Ok(flightdeck_core::outbox::Appliers {
            local: flightdeck_core::outbox::LocalApplier {
                store: store.clone(),
                name: self.name.clone(),
                email: self.email.clone(),
            },
            github,
        })
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

/// The UI folder next to the sources, for running from a checkout.
pub fn default_ui_dir() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/dist"));
    p.join("index.html")
        .is_file()
        .then(|| p.canonicalize().unwrap_or(p))
}
