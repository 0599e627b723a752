//! Who is asking. Every `/api` request carries a session cookie or the bearer token:
//!
//! - a browser signs in by opening `/login?code=…` with a one-time code (`serve` and `demo`
//!   print that link; `flightdeck login` makes another). The answer sets an HttpOnly,
//!   SameSite=Strict cookie (Secure under TLS) and sends the browser to the UI, so the code
//!   leaves the address bar at once; no long-lived secret is ever in a URL.
//! - a script sends `Authorization: Bearer <token>` with the `--token` the server was started
//!   with.
//! - the desktop's in-process router (nothing outside the process reaches it) needs neither.
//!
//! The rules (codes, sessions, their lifetimes) are `flightdeck_core::domain::access`'s; this
//! module reads and writes HTTP.

use axum::extract::{OriginalUri, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use flightdeck_core::domain::access::{self, AccessError, SESSION_SECS};
use flightdeck_core::model::device::{self, SignedBy};
use flightdeck_core::store::SessionRow;

use crate::error::ApiError;
use crate::AppState;

/// The session cookie's name on this host and port. Browsers share cookies between the ports
/// of one host, so two Flightdecks on one machine (a demo beside `serve`) would otherwise
/// overwrite each other's session.
pub fn cookie_name(headers: &HeaderMap) -> String {
    match crate::guard::host_port(headers) {
        Some(p) => format!("flightdeck_session_{p}"),
        None => "flightdeck_session".to_string(),
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// `Set-Cookie` for this host's session cookie: `value` for `max_age` seconds (0 clears it).
pub(crate) fn session_cookie(
    state: &AppState,
    headers: &HeaderMap,
    value: &str,
    max_age: i64,
) -> Option<HeaderValue> {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        cookie_name(headers)
    ))
    .ok()
}

/// Who the request comes from, once authenticated.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The desktop window (in-process).
    Desktop,
    /// A script with the bearer token.
    Token,
    /// A signed-in browser.
    Session(SessionRow),
}

impl Caller {
    /// The person a session acts as (`None`: the instance's user).
    pub fn person(&self) -> Option<&str> {
        match self {
            Caller::Session(s) => s.person.as_deref(),
            _ => None,
        }
    }

    /// The paired device this caller is, if it is one.
    pub fn device(&self) -> Option<SignedBy> {
        match self {
            Caller::Session(s) => s.device_key.as_ref().map(|key| SignedBy {
                name: s.label.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

/// The `/api` layer: passes authenticated requests on (with their [`Caller`]), answers 401
/// to the rest. A paired device's request must also carry its signature (see
/// [`check_signed`]).
pub async fn require(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match caller(&state, req.headers()).await {
        Ok(Some(c)) => {
            if let Some(by) = c.device() {
                req = match check_signed(&state, &by, req).await {
                    Ok(req) => req,
                    Err(e) => return e.into_response(),
                };
            }
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Ok(None) => ApiError::Unauthorized.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The headers a paired device signs each request with (`model::device::request_message`).
pub const SIGNED_AT: &str = "x-flightdeck-time";
pub const SIGNED_NONCE: &str = "x-flightdeck-nonce";
pub const SIGNATURE: &str = "x-flightdeck-signature";
/// How far a device's clock may be from the server's.
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// The largest request body a device signs (decisions and work items are small).
const SIGNED_BODY_MAX: usize = 1 << 20;

/// Checks a paired device's request signature: over the method, the path and query, its time
/// (within [`CLOCK_SKEW_MS`], and not before this server started), a nonce not seen before,
/// and the body's SHA-256. Three reads are exempt because a browser makes them without script
/// and so cannot sign them: the event stream (`EventSource`: change notices, no data), chart
/// images (`<img>`) and the weekly report (a link). Returns the request with its body put
/// back.
async fn check_signed(state: &AppState, by: &SignedBy, req: Request) -> Result<Request, ApiError> {
    let path_and_query = req
        .extensions()
        .get::<OriginalUri>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| req.uri().clone());
    let path_and_query = path_and_query
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let path = path_and_query.split('?').next().unwrap_or("");
    if req.method() == axum::http::Method::GET
        && (path == "/api/events"
            || path.starts_with("/api/charts/")
            || path == "/api/reports/weekly.html")
    {
        return Ok(req);
    }
    // Owned copies: a borrow of the request must not live across the body's await (a body
    // is not Sync).
    let [at, nonce, signature] = [SIGNED_AT, SIGNED_NONCE, SIGNATURE].map(|name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let unsigned = || {
        ApiError::BadSignature(format!(
            "this device ({}) is paired: its requests must be signed with its key, and this one is not (if this browser lost its key, its site data cleared, sign out and pair again)",
            by.name
        ))
    };
    let at: i64 = at.ok_or_else(unsigned)?.parse().map_err(|_| {
        ApiError::BadSignature(format!("{SIGNED_AT} is not a time in milliseconds"))
    })?;
    let nonce = nonce.ok_or_else(unsigned)?;
    let signature = signature.ok_or_else(unsigned)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    if at < state.recent.started_ms - 1_000 {
        return Err(ApiError::BadSignature(
            "this request was signed before the server started (a replay, or a very old retry): send it again".into(),
        ));
    }
    if (now_ms - at).abs() > CLOCK_SKEW_MS {
        return Err(ApiError::BadSignature(format!(
            "this request was signed {} s from the server's time (more than {} minutes: set the device's clock)",
            (at - now_ms) / 1000,
            CLOCK_SKEW_MS / 60_000
        )));
    }
    if !(16..=64).contains(&nonce.len()) || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::BadSignature(format!(
            "{SIGNED_NONCE} must be 16 to 64 letters or digits"
        )));
    }
    let method = req.method().as_str().to_string();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, SIGNED_BODY_MAX)
        .await
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "a signed request's body is over {SIGNED_BODY_MAX} bytes"
            ))
        })?;
    let message = device::request_message(&method, &path_and_query, at, &nonce, &bytes);
    device::verify(&by.key, message.as_bytes(), &signature)
        .map_err(|e| ApiError::BadSignature(format!("device {}: {e}", by.name)))?;
    if !fresh_nonce(state, &by.key, &nonce, now_ms) {
        return Err(ApiError::BadSignature(
            "this signed request was sent before (a replay)".into(),
        ));
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// Whether a signed request's nonce is new for this device within the clock window: a
/// request replayed inside the window is refused; outside it, its time is.
fn fresh_nonce(state: &AppState, key: &str, nonce: &str, now_ms: i64) -> bool {
    // A poisoned lock (a panic elsewhere) refuses: better a resend than a replay.
    let Ok(mut seen) = state.recent.nonces.lock() else {
        return false;
    };
    if seen.len() > 10_000 {
        seen.retain(|_, t| now_ms - *t <= 2 * CLOCK_SKEW_MS);
    }
    let id = format!("{key}/{nonce}");
    if seen
        .get(&id)
        .is_some_and(|t| now_ms - t <= 2 * CLOCK_SKEW_MS)
    {
        return false;
    }
    seen.insert(id, now_ms);
    true
}

async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    if state.access.in_process {
        return Ok(Some(Caller::Desktop));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let (Some(given), Some(expected)) = (bearer, &state.token) {
        // Compared in constant time: how much of a guess matched must not show in the timing.
        if same(given, expected) {
            return Ok(Some(Caller::Token));
        }
    }
    let Some(secret) = cookie(headers, &cookie_name(headers)) else {
        return Ok(None);
    };
    // The store looks the session up by the secret's SHA-256: a guess's timing says nothing
    // about the secret.
    match access::session(&state.store, &secret, flightdeck_app::now()).await {
        Ok(s) => Ok(s.map(Caller::Session)),
        Err(e) => Err(access_error(e)),
    }
}

/// Equal strings, compared in time that depends only on their lengths.
pub fn same(a: &str, b: &str) -> bool {
    flightdeck_core::model::pake::constant_time_eq(a.as_bytes(), b.as_bytes())
}

pub(crate) fn access_error(e: AccessError) -> ApiError {
    match e {
        AccessError::Store(e) => ApiError::Core(e),
        AccessError::UnknownSession(_) | AccessError::UnknownPairing => {
            ApiError::NotFound(e.to_string())
        }
        other => ApiError::BadRequest(other.to_string()),
    }
}

/// Failed sign-ins allowed per minute before `/login` waits. A code is 128 random bits, so
/// guessing is hopeless anyway; the limit keeps a script from hammering the database.
const FAILURES_PER_MINUTE: usize = 20;

/// Whether sign-ins are held back now; `failed` records one more failure.
pub(crate) fn too_many_failures(state: &AppState, now: i64, failed: bool) -> bool {
    held_back(&state.recent.failures, now, failed)
}

/// Whether a budget of failures per minute is spent; `failed` records one more.
pub(crate) fn held_back(
    failures: &std::sync::Mutex<std::collections::VecDeque<i64>>,
    now: i64,
    failed: bool,
) -> bool {
    let Ok(mut f) = failures.lock() else {
        return false;
    };
    while f.front().is_some_and(|t| now - t >= 60) {
        f.pop_front();
    }
    if failed {
        f.push_back(now);
    }
    f.len() >= FAILURES_PER_MINUTE
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    code: Option<String>,
}

/// `GET /login?code=…`: uses the code, sets the session cookie and sends the browser to the
/// UI; a missing, unknown, used or expired code gets a page that says which and what to do.
pub async fn login(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(code) = q.code.filter(|c| !c.trim().is_empty()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "This link has no sign-in code. Open the link `flightdeck serve` printed, or run \
             `flightdeck login` for a new one.",
        );
    };
    // A sign-in link is opened as a page. Another site's image, script or fetch pointed at it
    // (to spend the failure budget below and lock the lead out, or to sign the browser in as
    // someone else) is refused before anything is counted or used.
    let dest = headers.get("sec-fetch-dest").and_then(|v| v.to_str().ok());
    if dest.is_some_and(|d| d != "document") {
        return refused(
            StatusCode::FORBIDDEN,
            "A sign-in link signs in only when opened as a page.",
        );
    }
    let now = flightdeck_app::now();
    if too_many_failures(&state, now, false) {
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in links that did not work in the last minute: wait a minute, then \
             open a new one.",
        );
    }
    let label = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match access::sign_in(&state.store, &code, label, now).await {
        Ok(opened) => {
            let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            if let Some(v) = session_cookie(&state, &headers, &opened.secret, SESSION_SECS) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(AccessError::Store(e)) => {
            tracing::error!("sign-in failed: {e}");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Signing in failed: the database could not be read (see the server's log).",
            )
        }
        Err(e) => {
            too_many_failures(&state, now, true);
            refused(StatusCode::UNAUTHORIZED, &e.to_string())
        }
    }
}

/// A small page saying why signing in failed (our own text only, escaped all the same).
fn refused(status: StatusCode, why: &str) -> Response {
    let why = why
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut res = (
        status,
        Html(format!(
            "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
             <title>Flightdeck: not signed in</title><h1>Not signed in</h1><p>{why}</p>"
        )),
    )
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// What `/api/session` says of the caller.
#[derive(serde::Serialize)]
pub struct Me {
    /// `desktop`, `token` or `session`.
    kind: &'static str,
    session: Option<SessionRow>,
}

/// `GET /api/session`: who this request is signed in as.
pub async fn me(axum::Extension(c): axum::Extension<Caller>) -> Json<Me> {
    Json(match c {
        Caller::Desktop => Me {
            kind: "desktop",
            session: None,
        },
        Caller::Token => Me {
            kind: "token",
            session: None,
        },
        Caller::Session(s) => Me {
            kind: "session",
            session: Some(s),
        },
    })
}

/// `POST /api/session/logout`: ends this browser's session and clears its cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(c): axum::Extension<Caller>,
) -> Result<Response, ApiError> {
    if let Caller::Session(s) = c {
        access::revoke(&state.store, &s.id, flightdeck_app::now())
            .await
            .map_err(access_error)?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(v) = session_cookie(&state, &headers, "", 0) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `GET /api/sessions`: the browsers signed in, most recently seen first.
pub async fn sessions(State(state): State<AppState>) -> Result<Json<Vec<SessionRow>>, ApiError> {
    Ok(Json(
        state.store.open_sessions(flightdeck_app::now()).await?,
    ))
}

/// `POST /api/sessions/{id}/revoke`: signs a browser out (a lost phone, say).
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access::revoke(&state.store, &id, flightdeck_app::now())
        .await
        .map_err(access_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_named_by_the_port_and_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7878"));
        assert_eq!(cookie_name(&h), "flightdeck_session_7878");
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; flightdeck_session_7878=abc ; flightdeck_session_9=x"),
        );
        assert_eq!(cookie(&h, &cookie_name(&h)).as_deref(), Some("abc"));
        h.insert(header::HOST, HeaderValue::from_static("[::1]"));
        assert_eq!(cookie_name(&h), "flightdeck_session");
        h.insert(header::HOST, HeaderValue::from_static("fd.example"));
        assert_eq!(cookie_name(&h), "flightdeck_session");
        assert_eq!(cookie(&h, "flightdeck_session"), None);
    }

    #[test]
    fn same_compares_whole_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
