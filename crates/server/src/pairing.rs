//! Pairing another device (a phone): a one-time link for it, shown as a QR code — SVG for the
//! UI's Pair panel, block characters for `flightdeck pair` in a terminal. The link's code
//! (`domain::access`: five minutes, single use, naming the device) sits in the URL's fragment,
//! which browsers never send: the phone's page runs SPAKE2 with the server over
//! `POST /pair/start` and `POST /pair/finish`, enrolling a key the phone made itself.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flightdeck_core::domain::access::{self, AccessError, PAIR_CODE_SECS};
use flightdeck_core::store::SessionRow;

use crate::error::ApiError;
use crate::AppState;

/// The link a device opens to pair: the code in the fragment, which browsers never send.
pub fn pair_url(base: &str, code: &str) -> String {
    format!("{}/pair#{code}", base.trim_end_matches('/'))
}

/// A QR code of `text` as an SVG document (dark modules on white, with the quiet zone).
pub fn qr_svg(text: &str) -> Result<String, String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .build())
}

/// A QR code of `text` for a terminal: two modules per character cell, light on dark
/// inverted as phones' scanners expect when a terminal is dark.
pub fn qr_terminal(text: &str) -> Result<String, String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .build())
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    /// What to call the device ("Ana's phone").
    #[serde(default)]
    name: Option<String>,
}

#[derive(serde::Serialize)]
pub struct Pairing {
    /// The link the device opens (also in the QR code).
    url: String,
    /// The QR code, SVG.
    svg: String,
    expires_at: i64,
    /// The TLS certificate's CA to install first, when this server made its certificate.
    ca_url: Option<String>,
    /// The served certificate's SHA-256 fingerprint (under TLS), to compare with the phone's.
    tls_fingerprint: Option<String>,
}

/// `POST /api/session/pair`: a pairing link and its QR code, for a signed-in lead to show a
/// phone. The link names this server as the phone reaches it: the first `[server] hosts` name
/// when one is configured (a phone cannot reach `127.0.0.1`), else the request's own host.
pub async fn pair(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    Json(req): Json<PairRequest>,
) -> Result<Json<Pairing>, ApiError> {
    let now = flightdeck_app::now();
    // The phone acts as whoever pairs it: this session's person, else the instance's user.
    let person = caller
        .person()
        .map(str::to_string)
        .or_else(|| s.lead.as_ref().map(|l| l.person_key()));
    let code =
        access::issue_pairing_code_for(&s.store, req.name.as_deref(), person.as_deref(), now)
            .await
            .map_err(crate::auth::access_error)?;
    let base = public_base(&s, &headers);
    let url = pair_url(&base, &code);
    let svg = qr_svg(&url).map_err(ApiError::BadRequest)?;
    Ok(Json(Pairing {
        url,
        svg,
        expires_at: now + PAIR_CODE_SECS,
        ca_url: s.tls_ca.as_ref().map(|_| format!("{base}tls/ca.pem")),
        tls_fingerprint: s.tls_fingerprint.clone(),
    }))
}

/// `scheme://host[:port]/` as a device on the network reaches this server.
fn public_base(s: &AppState, headers: &HeaderMap) -> String {
    let scheme = if s.secure_cookies { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    match (s.access.hosts.first(), crate::guard::host_port(headers)) {
        (Some(name), Some(port)) => format!("{scheme}://{name}:{port}/"),
        (Some(name), None) => format!("{scheme}://{name}/"),
        (None, _) => format!("{scheme}://{host}/"),
    }
}

/// How long a started pairing waits for its second step.
const EXCHANGE_SECS: i64 = 60;

fn hex32(field: &str, text: &str) -> Result<[u8; 32], ApiError> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::BadRequest(format!("{field} is not hex of 32 bytes")))
}

fn held_back(s: &AppState, now: i64) -> Result<(), ApiError> {
    if crate::auth::held_back(&s.recent.pair_failures, now, false) {
        return Err(ApiError::TooMany(
            "too many pairing attempts failed in the last minute: wait a minute, then pair again"
                .into(),
        ));
    }
    Ok(())
}

/// A failed attempt counts against the minute's budget, then is answered.
fn failed(s: &AppState, now: i64, e: AccessError) -> ApiError {
    if !matches!(e, AccessError::Store(_)) {
        crate::auth::held_back(&s.recent.pair_failures, now, true);
    }
    crate::auth::access_error(e)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The public half of the code (before the dot).
    code_id: String,
    /// SPAKE2's `pA`, hex.
    message: String,
}

#[derive(serde::Serialize)]
pub struct StartAnswer {
    exchange: String,
    /// SPAKE2's `pB`, hex.
    message: String,
}

/// `POST /pair/start`: the phone names its code and sends `pA`; the server answers `pB`.
pub async fn start(
    State(s): State<AppState>,
    Json(req): Json<StartRequest>,
) -> Result<Json<StartAnswer>, ApiError> {
    let now = flightdeck_app::now();
    held_back(&s, now)?;
    let pa = hex32("message", &req.message)?;
    let started = access::pair_start(&s.store, req.code_id.trim(), &pa, now)
        .await
        .map_err(|e| failed(&s, now, e))?;
    let message = hex::encode(started.message());
    // pB is fresh randomness on every start: half of it names the exchange.
    let exchange = message[..32].to_string();
    if let Ok(mut all) = s.recent.exchanges.lock() {
        all.retain(|_, (_, at)| now - *at <= EXCHANGE_SECS);
        all.insert(exchange.clone(), (started, now));
    }
    Ok(Json(StartAnswer { exchange, message }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishRequest {
    exchange: String,
    /// The device's public key (hex of the uncompressed P-256 point).
    device_key: String,
    /// SPAKE2's `cA` for that key, hex.
    confirmation: String,
}

#[derive(serde::Serialize)]
pub struct FinishAnswer {
    session: SessionRow,
    /// SPAKE2's `cB`, hex: the phone checks it to know this server made its code.
    confirmation: String,
}

/// `POST /pair/finish`: the phone's key and its confirmation. On success the device is
/// enrolled, its session cookie set, and the server's confirmation returned.
pub async fn finish(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<FinishRequest>,
) -> Result<Response, ApiError> {
    let now = flightdeck_app::now();
    held_back(&s, now)?;
    let started = s
        .recent
        .exchanges
        .lock()
        .ok()
        .and_then(|mut all| all.remove(&req.exchange))
        .filter(|(_, at)| now - *at <= EXCHANGE_SECS)
        .map(|(started, _)| started)
        .ok_or_else(|| {
            crate::auth::held_back(&s.recent.pair_failures, now, true);
            ApiError::BadRequest(format!(
                "no pairing under way as `{}` (each lasts {EXCHANGE_SECS} s): scan the code again",
                req.exchange.chars().take(20).collect::<String>()
            ))
        })?;
    let confirmation = hex::decode(req.confirmation.trim())
        .map_err(|_| ApiError::BadRequest("confirmation is not hex".into()))?;
    let (_, audit) = crate::routes::lead(&s)?;
    let paired = access::pair_finish(
        &s.store,
        &audit,
        &started,
        req.device_key.trim(),
        &confirmation,
        now,
    )
    .await
    .map_err(|e| failed(&s, now, e))?;
    let mut res = Json(FinishAnswer {
        session: paired.opened.session.clone(),
        confirmation: hex::encode(paired.server_confirms),
    })
    .into_response();
    if let Some(v) =
        crate::auth::session_cookie(&s, &headers, &paired.opened.secret, access::SESSION_SECS)
    {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_qr_code_is_drawn_for_a_link() {
        let svg = super::qr_svg("https://deck.vpn:7878/login?code=00ff").unwrap();
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{svg:.80}"
        );
        let text = super::qr_terminal("https://deck.vpn:7878/login?code=00ff").unwrap();
        assert!(text.lines().count() > 10);
        assert!(text.contains('█') || text.contains('▀') || text.contains('▄'));
    }
}
