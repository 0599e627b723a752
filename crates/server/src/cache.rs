//! The views' answers, kept while the data under them is unchanged: many UIs (a team's, a
//! phone's, the desktop's) asking for the same view get one computation, not one each.
//!
//! An answer holds while the store's [`data_version`](flightdeck_core::store::Store::data_version)
//! (any commit by any process) and the event bus's sequence are what they were when it was
//! computed; after a write every caller waits for the new one. Past [`FRESH_FOR`] with nothing
//! written (views with a time window move with the clock) it is recomputed in the background. Only
//! views that are the same for every caller are kept (`?mine=` ones are not), and only after
//! authentication: the layer sits inside the API's `auth::require`. Callers asking for the
//! same view at once wait for the one computation (one lock per view).
//!
//! What views read besides the store: the policy file's modification time is part of the
//! version; a policy committed in a clone, a repo appearing on disk (suggested repos) or a
//! time window's edge show within [`FRESH_FOR`], or at the next write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// How long an answer stands while nothing is written; older, it is still given (views with a
/// time window move slowly) while the next is computed in the background.
pub const FRESH_FOR: Duration = Duration::from_secs(60);
/// Views kept at most (a query string makes a view of its own); past it, the idle ones go.
/// With the largest answers a team's store gives (3 MB), about 200 MB at most.
const MAX_VIEWS: usize = 64;
/// The largest answer kept (a bigger one, or one of unknown size, is served, not kept).
const MAX_BODY: u64 = 16 << 20;
/// A background refresh not done after this long is taken for lost (it panicked).
const REFRESH_LOST: Duration = Duration::from_secs(300);

/// The JSON views and charts that are the same for every caller.
const VIEWS: [&str; 15] = [
    "/api/inbox",
    "/api/changes",
    "/api/agents",
    "/api/repos",
    "/api/work",
    "/api/releases",
    "/api/experiments",
    "/api/spend",
    "/api/velocity",
    "/api/velocity/report",
    "/api/dora",
    "/api/cycle",
    "/api/team",
    "/api/audit",
    "/api/outbox",
];

struct Answer {
    version: String,
    seq: u64,
    at: Instant,
    /// Since when a newer answer is being computed in the background.
    refreshing: Option<Instant>,
    headers: HeaderMap,
    body: Bytes,
}

type Slot = Arc<tokio::sync::Mutex<Option<Answer>>>;

/// The kept answers, by path and query. Clones share them.
#[derive(Clone, Default)]
pub struct ViewCache {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

impl ViewCache {
    fn slot(&self, key: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = slots.get(key) {
            return s.clone();
        }
        if slots.len() >= MAX_VIEWS {
            // Drop the slots no request is using (a few query strings fill it, not views).
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots.entry(key.to_string()).or_default().clone()
    }

    /// How many views are kept (for tests).
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The request's path and query as the client sent them (a nested router sees its own part).
fn original(req: &Request) -> Uri {
    req.extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().clone(), |u| u.0.clone())
}

/// The key of a view everyone sees alike: its path and query, without the charts' `v` (the
/// UI's cache-buster); `None` for anything else, a `mine` filter included (as the handlers
/// decode the query, percent-escapes and all).
fn key_of(req: &Request, uri: &Uri) -> Option<String> {
    let path = uri.path();
    if req.method() != Method::GET || !(VIEWS.contains(&path) || path.starts_with("/api/charts/")) {
        return None;
    }
    let mut key = path.to_string();
    let mut first = true;
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k == "mine" {
            return None;
        }
        if k == "v" && path.starts_with("/api/charts/") {
            continue;
        }
        key.push(if first { '?' } else { '&' });
        first = false;
        key.extend(form_urlencoded::byte_serialize(k.as_bytes()));
        key.push('=');
        key.extend(form_urlencoded::byte_serialize(v.as_bytes()));
    }
    Some(key)
}

/// What the answers depend on besides the store: the policy file the Changes view judges by.
fn policy_stamp(s: &AppState) -> String {
    let modified = s
        .policy_file
        .as_deref()
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    modified.map_or_else(String::new, |d| d.as_nanos().to_string())
}

/// Middleware: answers a view from the cache when the data under it is unchanged.
pub async fn views(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let uri = original(&req);
    let Some(key) = key_of(&req, &uri) else {
        return next.run(req).await;
    };
    // Read before computing: a write during the computation makes the answer stale at once.
    let Ok(version) = s.store.data_version().await else {
        return next.run(req).await;
    };
    let version = format!("{version}/{}", policy_stamp(&s));
    let seq = s.bus.last_seq();
    let slot = s.recent.views.slot(&key);
    let mut kept = slot.lock().await;
    if let Some(a) = kept.as_mut() {
        if a.version == version && a.seq == seq {
            let refreshing = a.refreshing.is_some_and(|t| t.elapsed() < REFRESH_LOST);
            if a.at.elapsed() >= FRESH_FOR && !refreshing {
                // The data is unchanged, only the clock moved: answer with what is kept and
                // compute the next one in the background, once, so no caller waits for it.
                a.refreshing = Some(Instant::now());
                let slot = slot.clone();
                tokio::spawn(async move {
                    let fresh = compute(next, req, version, seq).await.ok();
                    let mut kept = slot.lock().await;
                    match fresh {
                        Some(f) => *kept = Some(f),
                        None => {
                            if let Some(a) = kept.as_mut() {
                                a.refreshing = None;
                            }
                        }
                    }
                });
            }
            return answer(a);
        }
    }
    // Changed data: every caller waits for the one computation (never served stale).
    match compute(next, req, version, seq).await {
        Ok(a) => {
            let res = answer(&a);
            *kept = Some(a);
            res
        }
        Err(res) => {
            *kept = None;
            res
        }
    }
}

/// Runs the view; its answer when it can be kept, else the response as it is.
async fn compute(next: Next, req: Request, version: String, seq: u64) -> Result<Answer, Response> {
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        return Err(res);
    }
    let (parts, body) = res.into_parts();
    if axum::body::HttpBody::size_hint(&body)
        .exact()
        .is_none_or(|n| n > MAX_BODY)
    {
        return Err(Response::from_parts(parts, body));
    }
    match axum::body::to_bytes(body, MAX_BODY as usize).await {
        Ok(body) => Ok(Answer {
            version,
            seq,
            at: Instant::now(),
            refreshing: None,
            headers: parts.headers,
            body,
        }),
        Err(e) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the view could not be read: {e}"),
        )
            .into_response()),
    }
}

fn answer(a: &Answer) -> Response {
    let mut res = Response::new(Body::from(a.body.clone()));
    *res.headers_mut() = a.headers.clone();
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(method: Method, uri: &str) -> Option<String> {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap_or_default();
        key_of(&req, req.uri())
    }

    #[test]
    fn only_views_alike_for_everyone_are_keyed() {
        assert_eq!(
            key(Method::GET, "/api/changes").as_deref(),
            Some("/api/changes")
        );
        assert_eq!(
            key(Method::GET, "/api/dora?since=2026-01-01&env=prod").as_deref(),
            Some("/api/dora?since=2026-01-01&env=prod")
        );
        // The UI's cache-buster makes no view of its own.
        assert_eq!(
            key(Method::GET, "/api/charts/spend-by-day.svg?v=7").as_deref(),
            Some("/api/charts/spend-by-day.svg")
        );
        // A caller's own view, however its query is spelled.
        for mine in [
            "/api/changes?mine=true",
            "/api/agents?x=1&mine=1",
            "/api/changes?%6Dine=true",
            "/api/work?mi%6Ee",
        ] {
            assert_eq!(key(Method::GET, mine), None, "{mine}");
        }
        // Not a view, or not a read.
        for (m, uri) in [
            (Method::GET, "/api/session"),
            (Method::GET, "/api/events"),
            (Method::GET, "/api/runs/x"),
            (Method::POST, "/api/changes"),
        ] {
            assert_eq!(key(m.clone(), uri), None, "{m} {uri}");
        }
    }
}
