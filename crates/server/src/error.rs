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
    #[error("missing or wrong token")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("chart rendering failed: {0}")]
    Chart(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Core(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Chart(_) => (StatusCode::INTERNAL_SERVER_ERROR, "chart"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        let body = serde_json::json!({"error": {"code": code, "message": self.to_string()}});
        (status, Json(body)).into_response()
    }
}
