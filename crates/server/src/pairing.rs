//! Pairing another device (a phone): a one-time sign-in link for it, shown as a QR code — SVG
//! for the UI's Pair panel, block characters for `flightdeck pair` in a terminal. The link's code
//! is a pairing code (`domain::access`): five minutes, single use, naming the device.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use flightdeck_core::domain::access::{self, PAIR_CODE_SECS};

use crate::error::ApiError;
use crate::AppState;

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
}

/// `POST /api/session/pair`: a pairing link and its QR code, for a signed-in lead to show a
/// phone. The link names this server as the phone reaches it: the first `[server] hosts` name
/// when one is configured (a phone cannot reach `127.0.0.1`), else the request's own host.
pub async fn pair(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<PairRequest>,
) -> Result<Json<Pairing>, ApiError> {
    let now = flightdeck_app::now();
    let code = access::issue_pairing_code(&s.store, req.name.as_deref(), now)
        .await
        .map_err(crate::auth::access_error)?;
    let base = public_base(&s, &headers);
    let url = format!("{base}login?code={code}");
    let svg = qr_svg(&url).map_err(ApiError::BadRequest)?;
    Ok(Json(Pairing {
        url,
        svg,
        expires_at: now + PAIR_CODE_SECS,
        ca_url: s.tls_ca.as_ref().map(|_| format!("{base}tls/ca.pem")),
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
