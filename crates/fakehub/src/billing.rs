//! Local stand-ins for the vendors' billing APIs, for tests and the demo: Anthropic's
//! `GET /v1/organizations/cost_report` (amounts as decimal strings in cents) and OpenAI's
//! `GET /v1/organization/costs` (amounts as numbers in dollars), answering with the recorded
//! shapes in `shapes/`: daily buckets, `limit` / `page` / `has_more` / `next_page` paging,
//! grouped or ungrouped results, the vendors' auth errors (401), rate limits (429 with
//! `retry-after`) and injected server errors.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

const ANTHROPIC_COSTS: &str = include_str!("../shapes/anthropic-cost-report.json");
const OPENAI_COSTS: &str = include_str!("../shapes/openai-costs.json");

/// A fault the next request meets.
#[derive(Debug, Clone, Copy)]
pub enum BillFault {
    Status(u16),
    RateLimited { retry_after: u64 },
}

#[derive(Default)]
struct Inner {
    anthropic_key: String,
    openai_key: String,
    /// (day, model, description, token_type, cents as the API writes them).
    anthropic: Vec<(NaiveDate, String, String, String, String)>,
    /// (day, line_item, project_id, dollars).
    openai: Vec<(NaiveDate, String, Option<String>, f64)>,
    faults: VecDeque<BillFault>,
    requests: u64,
}

/// The fakes' state, shared with the running server.
#[derive(Clone, Default)]
pub struct Billing(Arc<Mutex<Inner>>);

impl Billing {
    pub fn new(anthropic_key: &str, openai_key: &str) -> Self {
        let b = Billing::default();
        b.with(|i| {
            i.anthropic_key = anthropic_key.into();
            i.openai_key = openai_key.into();
        });
        b
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// An Anthropic cost line: `cents` as the API writes it (a decimal string).
    pub fn add_anthropic(&self, day: NaiveDate, model: &str, token_type: &str, cents: &str) {
        let description = format!("{model} Usage - {token_type}");
        self.with(|i| {
            i.anthropic.push((
                day,
                model.into(),
                description,
                token_type.into(),
                cents.into(),
            ))
        });
    }

    /// An OpenAI cost line (`line_item` as the API names them: `gpt-5.2-codex, input`).
    pub fn add_openai(&self, day: NaiveDate, line_item: &str, project: Option<&str>, usd: f64) {
        self.with(|i| {
            i.openai
                .push((day, line_item.into(), project.map(str::to_string), usd))
        });
    }

    pub fn push_fault(&self, f: BillFault) {
        self.with(|i| i.faults.push_back(f));
    }

    /// Requests answered (any status).
    pub fn requests(&self) -> u64 {
        self.with(|i| i.requests)
    }

    /// Serves both APIs on 127.0.0.1 (port 0: any free one); returns the base URL (the same
    /// for both: their paths differ).
    pub async fn serve(&self, port: u16) -> std::io::Result<String> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/v1/organizations/cost_report", get(anthropic_costs))
            .route("/v1/organization/costs", get(openai_costs))
            .with_state(self.clone())
            .layer(axum::middleware::from_fn(|req, next| {
                crate::journal::layer("billing", req, next)
            }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{addr}"))
    }
}

type Params = Query<Vec<(String, String)>>;

fn param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// The queued fault, if any, as the vendor would answer it.
fn fault(b: &Billing, vendor: &str) -> Option<Response> {
    let f = b.with(|i| {
        i.requests += 1;
        i.faults.pop_front()
    })?;
    Some(match f {
        BillFault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, "upstream error").into_response()
        }
        BillFault::RateLimited { retry_after } => {
            let body = if vendor == "anthropic" {
                json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}})
            } else {
                json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
            };
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after.to_string())],
                axum::Json(body),
            )
                .into_response()
        }
    })
}

fn bad_request(vendor: &str, message: &str) -> Response {
    let body = if vendor == "anthropic" {
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}})
    } else {
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
    };
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// Days `[from, to)` in pages of `limit` buckets; `page` is the opaque token we handed out.
fn page_of(
    from: NaiveDate,
    to: NaiveDate,
    limit: usize,
    page: Option<&str>,
) -> (Vec<NaiveDate>, Option<String>) {
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d < to).collect();
    let start: usize = page
        .and_then(|p| p.strip_prefix("page_"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let end = (start + limit).min(days.len());
    let next = (end < days.len()).then(|| format!("page_{end}"));
    (days.get(start..end).unwrap_or_default().to_vec(), next)
}

async fn anthropic_costs(
    State(b): State<Billing>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    if let Some(r) = fault(&b, "anthropic") {
        return r;
    }
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key != Some(b.with(|i| i.anthropic_key.clone()).as_str()) {
        let body = json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    if headers.get("anthropic-version").is_none() {
        return bad_request("anthropic", "anthropic-version: header is required");
    }
    let parse = |k: &str| {
        param(&q, k).and_then(|s| DateTime::parse_from_rfc3339(s).ok().map(|d| d.date_naive()))
    };
    let Some(from) = parse("starting_at") else {
        return bad_request("anthropic", "starting_at: a RFC 3339 timestamp is required");
    };
    let to = parse("ending_at").unwrap_or(from + chrono::Duration::days(7));
    let limit: usize = param(&q, "limit").and_then(|l| l.parse().ok()).unwrap_or(7);
    if !(1..=31).contains(&limit) {
        return bad_request(
            "anthropic",
            "limit: must be between 1 and 31 for 1d buckets",
        );
    }
    let grouped = q
        .iter()
        .any(|(k, v)| k == "group_by[]" && v == "description");
    let (days, next) = page_of(from, to, limit, param(&q, "page"));
    let template: Value = serde_json::from_str(ANTHROPIC_COSTS).unwrap_or_else(|_| json!({}));
    let line = template["data"][0]["results"][0].clone();
    let rows = b.with(|i| i.anthropic.clone());
    let buckets: Vec<Value> = days
        .iter()
        .map(|d| {
            let today: Vec<_> = rows.iter().filter(|r| r.0 == *d).collect();
            let results: Vec<Value> = if grouped {
                today
                    .iter()
                    .map(|(_, model, description, token_type, cents)| {
                        let mut r = line.clone();
                        r["amount"] = json!(cents);
                        r["model"] = json!(model);
                        r["description"] = json!(description);
                        r["token_type"] = json!(token_type);
                        r
                    })
                    .collect()
            } else if today.is_empty() {
                vec![]
            } else {
                let cents: f64 = today.iter().filter_map(|r| r.4.parse::<f64>().ok()).sum();
                let mut r = line.clone();
                for k in [
                    "description",
                    "cost_type",
                    "context_window",
                    "model",
                    "service_tier",
                    "token_type",
                    "inference_geo",
                    "workspace_id",
                ] {
                    r[k] = Value::Null;
                }
                r["amount"] = json!(format!("{cents:.4}"));
                vec![r]
            };
            json!({
                "starting_at": format!("{d}T00:00:00Z"),
                "ending_at": format!("{}T00:00:00Z", *d + chrono::Duration::days(1)),
                "results": results,
            })
        })
        .collect();
    axum::Json(json!({"data": buckets, "has_more": next.is_some(), "next_page": next}))
        .into_response()
}

async fn openai_costs(State(b): State<Billing>, headers: HeaderMap, Query(q): Params) -> Response {
    if let Some(r) = fault(&b, "openai") {
        return r;
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(format!("Bearer {}", b.with(|i| i.openai_key.clone())).as_str()) {
        let body = json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let day_of = |k: &str| {
        param(&q, k)
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .map(|d| d.date_naive())
    };
    let Some(from) = day_of("start_time") else {
        return bad_request("openai", "start_time is required (unix seconds)");
    };
    let to = day_of("end_time").unwrap_or(from + chrono::Duration::days(7));
    let limit: usize = param(&q, "limit").and_then(|l| l.parse().ok()).unwrap_or(7);
    if !(1..=180).contains(&limit) {
        return bad_request("openai", "limit must be between 1 and 180");
    }
    let grouped = q.iter().any(|(k, v)| k == "group_by[]" && v == "line_item");
    let (days, next) = page_of(from, to, limit, param(&q, "page"));
    let template: Value = serde_json::from_str(OPENAI_COSTS).unwrap_or_else(|_| json!({}));
    let line = template["data"][0]["results"][0].clone();
    let rows = b.with(|i| i.openai.clone());
    let buckets: Vec<Value> = days
        .iter()
        .map(|d| {
            let today: Vec<_> = rows.iter().filter(|r| r.0 == *d).collect();
            let results: Vec<Value> = if grouped {
                today
                    .iter()
                    .map(|(_, item, project, usd)| {
                        let mut r = line.clone();
                        r["amount"]["value"] = json!(usd);
                        r["line_item"] = json!(item);
                        r["project_id"] = json!(project);
                        r
                    })
                    .collect()
            } else if today.is_empty() {
                vec![]
            } else {
                let mut r = line.clone();
                r["amount"]["value"] = json!(today.iter().map(|r| r.3).sum::<f64>());
                r["line_item"] = Value::Null;
                r["project_id"] = Value::Null;
                vec![r]
            };
            let start = d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp());
            json!({"object": "bucket", "start_time": start, "end_time": start + 86_400, "results": results})
        })
        .collect();
    axum::Json(
        json!({"object": "page", "data": buckets, "has_more": next.is_some(), "next_page": next}),
    )
    .into_response()
}
