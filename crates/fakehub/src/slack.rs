//! A local stand-in for Slack's Web API, for tests and the demo: `chat.postMessage` and
//! `chat.update` as a bot calls them (a JSON body, `Authorization: Bearer xoxb-…`), answering
//! with Slack's shapes — HTTP 200 and `{"ok": true, "channel", "ts", "message"}`, or HTTP 200
//! and `{"ok": false, "error": "invalid_auth"}` (`not_authed`, `channel_not_found`,
//! `message_not_found`, `no_text`) — and a rate limit as Slack sends it (429, `Retry-After`,
//! `{"ok": false, "error": "ratelimited"}`).

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// A fault the next call meets.
#[derive(Debug, Clone, Copy)]
pub enum SlackFault {
    RateLimited { retry_after: u64 },
    Status(u16),
}

/// A message as Slack holds it, with each version it had.
#[derive(Debug, Clone)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    /// The `chat.postMessage` body, then each `chat.update` body, in order.
    pub versions: Vec<Value>,
}

#[derive(Default)]
struct Inner {
    token: String,
    channels: BTreeSet<String>,
    messages: Vec<Posted>,
    faults: VecDeque<SlackFault>,
    calls: Vec<(String, Value)>,
    clock: u64,
}

/// The fake workspace's state, shared with its running server.
#[derive(Clone, Default)]
pub struct Slack(Arc<Mutex<Inner>>);

impl Slack {
    /// A workspace whose bot token is `token`, with these channel IDs.
    pub fn new(token: &str, channels: &[&str]) -> Self {
        let s = Slack::default();
        s.with(|i| {
            i.token = token.into();
            i.channels = channels.iter().map(|c| c.to_string()).collect();
            i.clock = 1_764_950_400;
        });
        s
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    pub fn push_fault(&self, f: SlackFault) {
        self.with(|i| i.faults.push_back(f));
    }

    /// The messages posted, in order, each with its versions.
    pub fn messages(&self) -> Vec<Posted> {
        self.with(|i| i.messages.clone())
    }

    /// Every call (method and body), answered or refused.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.with(|i| i.calls.clone())
    }

    /// Serves the Web API at `/api/METHOD` on 127.0.0.1 (port 0: any free one); returns the
    /// API's base (`http://127.0.0.1:PORT/api`).
    pub async fn serve(&self, port: u16) -> std::io::Result<String> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/api/chat.postMessage", post(post_message))
            .route("/api/chat.update", post(update))
            .with_state(self.clone())
            .layer(axum::middleware::from_fn(|req, next| {
                crate::journal::layer("slack", req, next)
            }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{addr}/api"))
    }
}

fn refused(error: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": false, "error": error})),
    )
        .into_response()
}

/// What every call checks first: a fault, the token, a JSON body, a known channel.
fn admit(
    s: &Slack,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Box<Response>> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    s.with(|i| i.calls.push((method.to_string(), parsed.clone())));
    if let Some(f) = s.with(|i| i.faults.pop_front()) {
        return Err(Box::new(match f {
            SlackFault::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after.to_string())],
                axum::Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response(),
            SlackFault::Status(code) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
                (status, "upstream error").into_response()
            }
        }));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        None => return Err(Box::new(refused("not_authed"))),
        Some(t) if t != s.with(|i| i.token.clone()) => {
            return Err(Box::new(refused("invalid_auth")))
        }
        _ => {}
    }
    if parsed.is_null() {
        return Err(Box::new(refused("invalid_json")));
    }
    let channel = parsed["channel"].as_str().unwrap_or_default();
    if !s.with(|i| i.channels.contains(channel)) {
        return Err(Box::new(refused("channel_not_found")));
    }
    let has_text = parsed["text"].as_str().is_some_and(|t| !t.is_empty())
        || parsed["blocks"].as_array().is_some_and(|b| !b.is_empty());
    if !has_text {
        return Err(Box::new(refused("no_text")));
    }
    // Block Kit's limits, as Slack checks them: a text object of 1 to 3,000 characters.
    if !blocks_valid(&parsed["blocks"]) {
        return Err(Box::new(refused("invalid_blocks")));
    }
    Ok(parsed)
}

/// Whether every text object in `blocks` (sections, context elements, button labels) holds
/// 1 to 3,000 characters.
fn blocks_valid(blocks: &Value) -> bool {
    fn texts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let (Some(Value::String(kind)), Some(Value::String(t))) =
                    (m.get("type"), m.get("text"))
                {
                    if kind == "mrkdwn" || kind == "plain_text" {
                        out.push(t.clone());
                    }
                }
                m.values().for_each(|x| texts(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    texts(blocks, &mut all);
    all.iter()
        .all(|t| !t.is_empty() && t.chars().count() <= 3_000)
}

async fn post_message(
    State(s): State<Slack>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let parsed = match admit(&s, "chat.postMessage", &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let channel = parsed["channel"].as_str().unwrap_or_default().to_string();
    let ts = s.with(|i| {
        i.clock += 1;
        let ts = format!("{}.{:06}", i.clock, i.messages.len() + 1);
        i.messages.push(Posted {
            channel: channel.clone(),
            ts: ts.clone(),
            versions: vec![parsed.clone()],
        });
        ts
    });
    axum::Json(json!({
        "ok": true, "channel": channel, "ts": ts,
        "message": {"type": "message", "subtype": "bot_message", "text": parsed["text"],
            "blocks": parsed["blocks"], "ts": ts, "bot_id": "B0FLIGHTDK"}
    }))
    .into_response()
}

async fn update(State(s): State<Slack>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let parsed = match admit(&s, "chat.update", &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let channel = parsed["channel"].as_str().unwrap_or_default().to_string();
    let ts = parsed["ts"].as_str().unwrap_or_default().to_string();
    let found = s.with(|i| {
        match i
            .messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == ts)
        {
            Some(m) => {
                m.versions.push(parsed.clone());
                true
            }
            None => false,
        }
    });
    if !found {
        return refused("message_not_found");
    }
    axum::Json(json!({"ok": true, "channel": channel, "ts": ts, "text": parsed["text"]}))
        .into_response()
}
