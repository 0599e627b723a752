//! API errors: every failure becomes JSON `{"error": {"code", "message"}}` with a stable code the
//! UI can branch on, and the right status.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("port {} on {} is already in use: stop the other server or pass --port", addr.port(), addr.ip())]
    PortInUse { addr: SocketAddr },
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Core(#[from] flightdeck_core::Error),
    #[error("not signed in: open the sign-in link `flightdeck serve` printed, or run `flightdeck login` for a new one (scripts: `Authorization: Bearer` with the server's --token)")]
    Unauthorized,
    /// A paired device's request without its signature, or with one that does not verify.
    #[error("{0}")]
    BadSignature(String),
    /// Too many failed attempts (pairing) in the last minute.
    #[error("{0}")]
    TooMany(String),
    /// Refused before any route: a foreign `Host`, `Origin` or `Sec-Fetch-Site`.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("chart rendering failed: {0}")]
    Chart(String),
    #[error(transparent)]
    Decide(#[from] flightdeck_core::domain::outbox::DecideError),
    #[error(transparent)]
    Resolve(#[from] flightdeck_core::domain::outbox::ResolveError),
    #[error("this server is read-only: {0}")]
    ReadOnly(String),
    #[error("GitHub: {0}")]
    Upstream(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Work(#[from] flightdeck_core::domain::work::WorkError),
    #[error(transparent)]
    Dispatch(#[from] flightdeck_core::domain::dispatch::DispatchError),
    #[error(transparent)]
    Deploy(#[from] flightdeck_core::domain::deploys::DeployError),
    #[error(transparent)]
    Release(#[from] flightdeck_core::domain::releases::ReleaseError),
    #[error(transparent)]
    Experiment(#[from] flightdeck_core::domain::experiments::DecideError),
    #[error(transparent)]
    Incident(#[from] flightdeck_core::domain::incidents::IncidentError),
}

/// A use case's error keeps the status and code its core error has everywhere else.
impl From<flightdeck_app::AppError> for ApiError {
    fn from(e: flightdeck_app::AppError) -> Self {
        use flightdeck_app::AppError as A;
        match e {
            A::Core(e) => ApiError::Core(e),
            A::Decide(e) => ApiError::Decide(e),
            A::Resolve(e) => ApiError::Resolve(e),
            A::Work(e) => ApiError::Work(e),
            A::Dispatch(e) => ApiError::Dispatch(e),
            A::Release(e) => ApiError::Release(e),
            A::Experiment(e) => ApiError::Experiment(e),
            // Without a usable GitHub client nothing can be decided here: as before the app
            // layer, the server is read-only for decisions.
            A::Forge(e) => ApiError::ReadOnly(e.to_string()),
            A::Invalid(m) => ApiError::BadRequest(m),
            A::NotFound(m) => ApiError::NotFound(m),
            A::Unavailable(m) => ApiError::Upstream(m),
        }
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Core(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            // Not 401: the session is good (the UI would take 401 as signed out and forget
            // what it kept); the request is not.
            ApiError::BadSignature(_) => (StatusCode::FORBIDDEN, "bad_signature"),
            ApiError::TooMany(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Chart(_) => (StatusCode::INTERNAL_SERVER_ERROR, "chart"),
            ApiError::ReadOnly(_) => (StatusCode::SERVICE_UNAVAILABLE, "read_only"),
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, "github"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Work(e) => work_status(e),
            ApiError::Release(e) => {
                use flightdeck_core::domain::releases::ReleaseError as R;
                match e {
                    R::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                    R::NotPending(..) => (StatusCode::CONFLICT, "not_pending"),
                    R::NoSha(_) | R::NeedsReason => (StatusCode::BAD_REQUEST, "bad_request"),
                    R::Signature(_) => (StatusCode::FORBIDDEN, "bad_signature"),
                    R::NoClone(_) => (StatusCode::CONFLICT, "no_clone"),
                    R::NotAllowed(_) => (StatusCode::FORBIDDEN, "not_allowed"),
                    R::Git(..) | R::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "release"),
                }
            }
            ApiError::Experiment(e) => {
                use flightdeck_core::domain::experiments::DecideError as E;
                match e {
                    E::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                    E::Decided { .. } => (StatusCode::CONFLICT, "decided"),
                    E::Mismatch(..) => (StatusCode::CONFLICT, "sample_ratio_mismatch"),
                    E::Guardrail(..) => (StatusCode::CONFLICT, "guardrail"),
                    E::NeedsVariation(_) | E::NotAVariation(..) => {
                        (StatusCode::BAD_REQUEST, "bad_request")
                    }
                    E::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "experiment"),
                }
            }
            ApiError::Incident(e) => {
                use flightdeck_core::domain::deploys::DeployError as D;
                use flightdeck_core::domain::incidents::IncidentError as I;
                match e {
                    I::Store(_) | I::Repo(D::Git(..) | D::Store(_)) => {
                        (StatusCode::INTERNAL_SERVER_ERROR, "incident")
                    }
                    _ => (StatusCode::BAD_REQUEST, "bad_request"),
                }
            }
            ApiError::Deploy(e) => {
                use flightdeck_core::domain::deploys::DeployError as D;
                match e {
                    D::Git(..) | D::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "deploy"),
                    _ => (StatusCode::BAD_REQUEST, "bad_request"),
                }
            }
            ApiError::Dispatch(e) => {
                use flightdeck_core::domain::dispatch::DispatchError as D;
                match e {
                    D::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                    D::Ended(..) => (StatusCode::CONFLICT, "ended"),
                    D::BranchExists(..) | D::NoLocalBranch(..) => (StatusCode::CONFLICT, "branch"),
                    D::NoClone(_) => (StatusCode::CONFLICT, "no_clone"),
                    D::UnknownAgent(..) | D::NoRepo(_) | D::UnknownRepo(..) => {
                        (StatusCode::BAD_REQUEST, "bad_request")
                    }
                    D::Work(w) => work_status(w),
                    D::Git(..) | D::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "dispatch"),
                }
            }
            ApiError::Resolve(e) => {
                use flightdeck_core::domain::outbox::ResolveError as R;
                match e {
                    R::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                    R::NotAllowed(_) => (StatusCode::FORBIDDEN, "not_allowed"),
                    R::NotFailed { .. } => (StatusCode::CONFLICT, "not_failed"),
                    R::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
                }
            }
            ApiError::Decide(e) => {
                use flightdeck_core::domain::outbox::DecideError as D;
                match e {
                    D::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                    D::NotAllowed(_) => (StatusCode::FORBIDDEN, "not_allowed"),
                    D::NotOpen { .. } | D::MergedBy { .. } => (StatusCode::CONFLICT, "not_open"),
                    D::MergeUnderway { .. } => (StatusCode::CONFLICT, "merge_underway"),
                    D::Moved { .. } => (StatusCode::CONFLICT, "moved"),
                    D::NotLocal(_) => (StatusCode::NOT_IMPLEMENTED, "not_local"),
                    D::KeyReused { .. } => (StatusCode::CONFLICT, "key_reused"),
                    D::BadKind(_)
                    | D::BadMethod(_)
                    | D::NeedsComment(_)
                    | D::BadKey(_)
                    | D::NoHead => (StatusCode::BAD_REQUEST, "bad_request"),
                    D::Refused { .. } => (StatusCode::CONFLICT, "policy"),
                    D::Unsigned => (StatusCode::FORBIDDEN, "unsigned"),
                    D::Signature(_) => (StatusCode::FORBIDDEN, "bad_signature"),
                    D::Policy(_) => (StatusCode::UNPROCESSABLE_ENTITY, "policy_error"),
                    D::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
                }
            }
        }
    }
}

fn work_status(e: &flightdeck_core::domain::work::WorkError) -> (StatusCode, &'static str) {
    use flightdeck_core::domain::work::WorkError as W;
    match e {
        W::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        W::Assignee(_) | W::UnknownAgent(..) | W::State(_) | W::NoTitle => {
            (StatusCode::BAD_REQUEST, "bad_request")
        }
        W::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        let mut body = serde_json::json!({"error": {"code": code, "message": self.to_string()}});
        // A policy refusal lists its reasons, for the UI to show beside the disabled button.
        if let ApiError::Decide(flightdeck_core::domain::outbox::DecideError::Refused {
            reasons,
            ..
        }) = &self
        {
            body["error"]["reasons"] = serde_json::json!(reasons);
        }
        (status, Json(body)).into_response()
    }
}
