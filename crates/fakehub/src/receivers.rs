//! Local receivers for notifications, for tests and the demo: a webhook endpoint that checks
//! the HMAC-SHA256 signature (its own implementation, not the sender's) and the timestamp's
//! age as a careful receiver would, and an ntfy server's JSON publishing endpoint (`POST /`)
//! with ntfy's answer and error shapes (`{"code":40101,"http":401,"error":…}`), an optional
//! access token, and injected faults.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A fault the next request meets.
#[derive(Debug, Clone, Copy)]
pub enum ReceiverFault {
    Status(u16),
    /// 429 with `Retry-After`.
    RateLimited {
        retry_after: u64,
    },
}

/// One request a receiver got, accepted or not.
#[derive(Debug, Clone)]
pub struct Received {
    /// What it answered.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Webhook: the delivery id header. ntfy: the id it gave the message.
    pub id: String,
    /// Webhook: whether the signature was right for the body and timestamp.
    pub signed: bool,
    /// ntfy: the bearer token sent, if any.
    pub token: Option<String>,
}

#[derive(Default)]
struct Inner {
    secret: String,
    token: Option<String>,
    faults: VecDeque<ReceiverFault>,
    received: Vec<Received>,
    next_id: u64,
}

/// A receiver's state, shared with its running server.
#[derive(Clone, Default)]
pub struct Receiver(Arc<Mutex<Inner>>);

/// How old a webhook's timestamp may be before the delivery counts as a replay.
pub const MAX_AGE_SECS: i64 = 300;

impl Receiver {
    /// A webhook receiver that accepts deliveries signed with `secret`.
    pub fn webhook(secret: &str) -> Self {
        let r = Receiver::default();
        r.with(|i| i.secret = secret.into());
        r
    }

    /// An ntfy server; with `token`, publishing needs `Authorization: Bearer TOKEN`.
    pub fn ntfy(token: Option<&str>) -> Self {
        let r = Receiver::default();
        r.with(|i| i.token = token.map(str::to_string));
        r
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    pub fn push_fault(&self, f: ReceiverFault) {
        self.with(|i| i.faults.push_back(f));
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.with(|i| i.received.clone())
    }

    /// The accepted ones (2xx).
    pub fn accepted(&self) -> Vec<Received> {
        self.with(|i| {
            i.received
                .iter()
                .filter(|r| r.status < 300)
                .cloned()
                .collect()
        })
    }

    /// Serves the webhook at `POST /hook` on 127.0.0.1 (port 0: any free one); its URL.
    pub async fn serve_webhook(&self, port: u16) -> std::io::Result<String> {
        let addr = self
            .serve(port, Router::new().route("/hook", post(webhook)))
            .await?;
        Ok(format!("http://{addr}/hook"))
    }

    /// Serves ntfy's publishing endpoint on 127.0.0.1; the URL of topic `topic` on it.
    pub async fn serve_ntfy(&self, port: u16, topic: &str) -> std::io::Result<String> {
        let addr = self
            .serve(port, Router::new().route("/", post(ntfy)))
            .await?;
        Ok(format!("http://{addr}/{topic}"))
    }

    async fn serve(&self, port: u16, router: Router<Receiver>) -> std::io::Result<SocketAddr> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let app = router
            .with_state(self.clone())
            .layer(axum::middleware::from_fn(|req, next| {
                crate::journal::layer("notify", req, next)
            }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(addr)
    }

    fn fault(&self) -> Option<ReceiverFault> {
        self.with(|i| i.faults.pop_front())
    }

    fn record(&self, r: Received) {
        self.with(|i| i.received.push(r));
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// HMAC-SHA256 (RFC 2104) over sha2, apart from the sender's `ring`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn webhook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = header(&headers, "x-flightdeck-delivery")
        .unwrap_or_default()
        .to_string();
    let secret = r.with(|i| i.secret.clone());
    let ts = header(&headers, "x-flightdeck-timestamp").and_then(|t| t.parse::<i64>().ok());
    let signed = match (ts, header(&headers, "x-flightdeck-signature")) {
        (Some(ts), Some(sig)) => {
            let mut msg = format!("{ts}.").into_bytes();
            msg.extend_from_slice(&body);
            sig.strip_prefix("sha256=") == Some(hex(&hmac_sha256(secret.as_bytes(), &msg)).as_str())
        }
        _ => false,
    };
    let fresh = ts.is_some_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= MAX_AGE_SECS);
    let (status, answer) = if !signed {
        (StatusCode::UNAUTHORIZED, "bad signature".into_response())
    } else if !fresh {
        (StatusCode::BAD_REQUEST, "stale timestamp".into_response())
    } else if parsed.is_null() {
        (StatusCode::BAD_REQUEST, "not JSON".into_response())
    } else {
        match r.fault() {
            Some(f) => fault_response(f),
            None => (
                StatusCode::NO_CONTENT,
                StatusCode::NO_CONTENT.into_response(),
            ),
        }
    };
    r.record(Received {
        status: status.as_u16(),
        body: parsed,
        id,
        signed,
        token: None,
    });
    answer
}

fn fault_response(f: ReceiverFault) -> (StatusCode, Response) {
    match f {
        ReceiverFault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, (status, "injected failure").into_response())
        }
        ReceiverFault::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after.to_string())],
                "too many requests",
            )
                .into_response(),
        ),
    }
}

/// ntfy's error body.
fn ntfy_error(status: StatusCode, code: u32, error: &str) -> (StatusCode, Response) {
    (
        status,
        (
            status,
            axum::Json(
                json!({"code": code, "http": status.as_u16(), "error": error,
                "link": "https://ntfy.sh/docs/publish/"}),
            ),
        )
            .into_response(),
    )
}

async fn ntfy(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let token = header(&headers, "authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::to_string);
    let want = r.with(|i| i.token.clone());
    let topic = parsed.get("topic").and_then(Value::as_str).unwrap_or("");
    let mut id = String::new();
    let (status, answer) = if want.is_some() && token != want {
        ntfy_error(StatusCode::UNAUTHORIZED, 40101, "unauthorized")
    } else if parsed.is_null() {
        ntfy_error(
            StatusCode::BAD_REQUEST,
            40017,
            "invalid request: request body must be message JSON as documented",
        )
    } else if topic.is_empty()
        || !topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        ntfy_error(
            StatusCode::BAD_REQUEST,
            40009,
            "invalid request: topic invalid",
        )
    } else if let Some(f) = r.fault() {
        match f {
            ReceiverFault::RateLimited { retry_after } => {
                let (s, _) = ntfy_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    42901,
                    "limit reached: too many requests",
                );
                (
                    s,
                    (
                        s,
                        [("retry-after", retry_after.to_string())],
                        axum::Json(json!({"code": 42901, "http": 429, "error": "limit reached: too many requests"})),
                    )
                        .into_response(),
                )
            }
            other => fault_response(other),
        }
    } else {
        id = r.with(|i| {
            i.next_id += 1;
            format!("fd{:010}", i.next_id)
        });
        let now = chrono::Utc::now().timestamp();
        let mut msg = json!({
            "id": id, "time": now, "expires": now + 43_200, "event": "message", "topic": topic,
            "message": parsed.get("message").cloned().unwrap_or(json!("triggered")),
        });
        for k in ["title", "tags", "priority", "click"] {
            if let Some(v) = parsed.get(k) {
                msg[k] = v.clone();
            }
        }
        (StatusCode::OK, axum::Json(msg).into_response())
    };
    r.record(Received {
        status: status.as_u16(),
        body: parsed,
        id,
        signed: false,
        token,
    });
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
