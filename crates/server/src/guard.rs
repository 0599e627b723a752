//! What every request passes before any route sees it, from whichever front end it comes:
//!
//! - a `Host` this server answers to: a loopback name (`localhost`, `*.localhost`), an IP
//!   address, or a configured host name. A page on another site that re-points its own name at
//!   this machine (DNS rebinding) sends its own name as the `Host`, and is refused.
//! - for a request that changes something (any method but GET, HEAD and OPTIONS; every route,
//!   the body-less ones included), no foreign `Origin` and no cross-site `Sec-Fetch-Site`: another
//!   page in the lead's browser cannot act in the lead's name, JSON or form alike.
//! - on every answer, headers that keep the UI out of other sites' frames and limit what a page
//!   served here may load and run.
//!
//! Requests without `Origin` and `Sec-Fetch-Site` (scripts, pipelines posting deploys) are not
//! browsers and pass those checks; the `Host` check applies to them too, so a pipeline that
//! calls this server by a DNS name needs that name in `[server] hosts`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::AppState;

/// Which hosts and page origins, beyond this server's own, a request may name.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Host names this server also answers to (lower case, no port), e.g. a VPN name.
    pub hosts: Vec<String>,
    /// Page origins that may change things besides the server's own.
    pub origins: Vec<String>,
    /// Requests come only from inside this process (the desktop window's custom scheme; no
    /// port is open): nothing else can reach the router, so `Host` and `Origin` say nothing
    /// and are not checked. The headers are still set.
    pub in_process: bool,
}

impl Access {
    /// The desktop window: its page (served by Tauri as `tauri://localhost`, or
    /// `http(s)://tauri.localhost` on Windows, whatever `Origin` the webview sends for it) calls
    /// the API on `flightdeck://localhost`, which only this process answers.
    pub fn desktop() -> Self {
        Access {
            hosts: Vec::new(),
            origins: Vec::new(),
            in_process: true,
        }
    }
}

/// Content-Security-Policy for everything served: scripts only from here, nothing framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // HTTP/2 carries the host in the URI's authority, not a `Host` header: set it as one, so
    // the checks here and everything after (the cookie's name, a pairing link) read one place.
    if !req.headers().contains_key(header::HOST) {
        if let Some(a) = req
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            req.headers_mut().insert(header::HOST, a);
        }
    }
    if let Err(why) = check(&state.access, req.method(), req.headers()) {
        return ApiError::Forbidden(why).into_response();
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Why a request is refused, if it is.
pub fn check(access: &Access, method: &Method, headers: &HeaderMap) -> Result<(), String> {
    if access.in_process {
        return Ok(());
    }
    let text = |name: header::HeaderName| {
        headers
            .get(&name)
            .map(|v| v.to_str().map_err(|_| format!("unreadable {name} header")))
            .transpose()
    };
    let host = text(header::HOST)?;
    if let Some(host) = host {
        if !host_allowed(access, host) {
            return Err(format!(
                "this server does not answer to host `{host}`; add it to [server] hosts if it \
                 is this machine's name"
            ));
        }
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))? {
        if site != "same-origin" && site != "none" && !access_origin(access, headers) {
            return Err(format!(
                "a {site} request may not change anything here; use Flightdeck's own page"
            ));
        }
    }
    if let Some(origin) = text(header::ORIGIN)? {
        let own = host.is_some_and(|h| origin_is_host(origin, h));
        if !own && !access.origins.iter().any(|o| o == origin) {
            return Err(format!(
                "a request from page `{origin}` may not change anything here; use Flightdeck's \
                 own page"
            ));
        }
    }
    Ok(())
}

/// A cross-site fetch from an origin the access allows (the desktop window's page).
fn access_origin(access: &Access, headers: &HeaderMap) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| access.origins.iter().any(|a| a == o))
}

/// Whether `host` (a `Host` header: name or address, maybe a port) is one this server answers
/// to. An IP address cannot be re-pointed by a DNS answer, so any address is fine.
fn host_allowed(access: &Access, host: &str) -> bool {
    let name = host_name(host).to_ascii_lowercase();
    if name.is_empty() {
        return false;
    }
    name.parse::<std::net::IpAddr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || access.hosts.iter().any(|h| h.eq_ignore_ascii_case(&name))
}

/// The port the request's `Host` names (the guard has set `Host` from an HTTP/2 authority),
/// if it names one: `127.0.0.1:7878` → `7878`; `[::1]` and `deck.vpn` → none.
pub(crate) fn host_port(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The name of `host:port`, `[v6]:port` or `name`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // `[v6]` or `[v6]:port`; anything else names nothing.
        return match rest.split_once(']') {
            Some((v6, "")) => v6,
            Some((v6, port))
                if port
                    .strip_prefix(':')
                    .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                v6
            }
            _ => "",
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether page origin `origin` (`scheme://host[:port]`) is this server as `host` names it.
fn origin_is_host(origin: &str, host: &str) -> bool {
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn hosts_this_server_answers_to() {
        let a = Access {
            hosts: vec!["deck.vpn".into()],
            ..Default::default()
        };
        for ok in [
            "localhost:7878",
            "LOCALHOST",
            "app.localhost:1",
            "127.0.0.1:7878",
            "[::1]:7878",
            "192.168.1.20:7878",
            "deck.vpn:443",
        ] {
            assert!(host_allowed(&a, ok), "{ok}");
        }
        for bad in [
            "evil.example:7878",
            "localhost.evil.example",
            "",
            ":7878",
            "[::1",
        ] {
            assert!(!host_allowed(&a, bad), "{bad}");
        }
    }

    #[test]
    fn only_the_own_page_changes_things() {
        let a = Access::default();
        let post = Method::POST;
        let own = headers(&[
            ("host", "127.0.0.1:7878"),
            ("origin", "http://127.0.0.1:7878"),
        ]);
        assert!(check(&a, &post, &own).is_ok());
        let script = headers(&[("host", "127.0.0.1:7878")]);
        assert!(check(&a, &post, &script).is_ok(), "no browser, no origin");
        for (origin, site) in [
            ("http://evil.example", "cross-site"),
            ("http://127.0.0.1:9999", "same-site"),
            ("null", "cross-site"),
        ] {
            let h = headers(&[("host", "127.0.0.1:7878"), ("origin", origin)]);
            assert!(check(&a, &post, &h).is_err(), "{origin}");
            let h = headers(&[("host", "127.0.0.1:7878"), ("sec-fetch-site", site)]);
            assert!(check(&a, &post, &h).is_err(), "{site}");
        }
        let read = headers(&[
            ("host", "127.0.0.1:7878"),
            ("origin", "http://evil.example"),
        ]);
        assert!(
            check(&a, &Method::GET, &read).is_ok(),
            "reads are not refused by origin"
        );
        // The desktop window's webview, whatever origin it reports for its custom scheme.
        for origin in ["tauri://localhost", "null"] {
            let desktop = headers(&[
                ("host", "localhost"),
                ("origin", origin),
                ("sec-fetch-site", "cross-site"),
            ]);
            assert!(check(&Access::desktop(), &post, &desktop).is_ok());
            assert!(check(&a, &post, &desktop).is_err());
        }
        let allowed = Access {
            origins: vec!["https://proxy.example".into()],
            ..Default::default()
        };
        let proxied = headers(&[
            ("host", "127.0.0.1:7878"),
            ("origin", "https://proxy.example"),
        ]);
        assert!(check(&allowed, &post, &proxied).is_ok());
    }
}
