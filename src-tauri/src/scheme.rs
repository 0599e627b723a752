//! The `flightdeck://` URI scheme: each webview request goes through the server's axum router
//! in-process, so the desktop runs the browser's API with no port open.

use axum::body::Body;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The page's origin inside the webview; the only origin allowed to read API responses.
const APP_ORIGIN: &str = "tauri://localhost";

/// One webview request through the axum router, answered with the app's origin allowed.
pub async fn route(
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
