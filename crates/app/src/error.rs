//! The use cases' errors: the core's own, passed through whole so each front end can map them
//! (to a status and code in the API, to one line in the terminal), plus the few the use cases
//! add themselves.

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Core(#[from] flightdeck_core::Error),
    #[error(transparent)]
    Decide(#[from] flightdeck_core::domain::outbox::DecideError),
    #[error(transparent)]
    Resolve(#[from] flightdeck_core::domain::outbox::ResolveError),
    #[error(transparent)]
    Work(#[from] flightdeck_core::domain::work::WorkError),
    #[error(transparent)]
    Dispatch(#[from] flightdeck_core::domain::dispatch::DispatchError),
    #[error(transparent)]
    Release(#[from] flightdeck_core::domain::releases::ReleaseError),
    #[error(transparent)]
    Experiment(#[from] flightdeck_core::domain::experiments::DecideError),
    /// GitHub cannot be acted on (a bad API URL or client): decisions can't be queued for it.
    #[error("GitHub: {0}")]
    Forge(#[from] flightdeck_core::forge::github::GitHubError),
    /// The request itself is wrong (a field that does not fit); the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// Something the request needs cannot be had now (a forge out of reach, nothing stored).
    #[error("{0}")]
    Unavailable(String),
}
