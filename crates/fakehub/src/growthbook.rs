//! A local GrowthBook REST API (`/api/v1`) for tests and the demo, answering with GrowthBook's
//! shapes, status codes and headers as its open-source back end serves them: Bearer or Basic
//! secret keys (400 without a header, 401 for a wrong key), offset pagination (`limit` 1–100,
//! `hasMore`, `nextOffset`), a per-key limit of requests per window (429 with `Retry-After`, and
//! `RateLimit-Limit/Remaining/Reset` on every answer), `{"message": …}` error bodies, unset
//! strings as `""`, results with every analysis number present (0 when unset), and the
//! dedicated `POST /experiments/{id}/stop`.
//!
//! Not a general GrowthBook: one key, state in memory set through `GrowthBook`'s methods, the
//! analysis numbers of results (lift, interval, p-value) from a plain normal approximation
//! (Flightdeck computes its own from the counts and sums).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// A fault the next request (after authentication) meets.
#[derive(Debug, Clone, Copy)]
pub enum GbFault {
    /// Answer with this 5xx status and the app-level error body.
    Status(u16),
    /// 429 with `retry-after: secs`.
    RateLimited { retry_after: u64 },
    /// Do what was asked (a stop), then answer with this 5xx: the answer is lost, the stop is not.
    AfterApply(u16),
}

/// One variation's aggregate for one metric, as GrowthBook's snapshot holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub users: f64,
    /// Σ metric over users.
    pub numerator: f64,
    /// Σ denominator (a ratio metric's), else the users.
    pub denominator: f64,
    pub mean: f64,
    pub stddev: f64,
}

impl Cell {
    /// A conversion metric: `converted` of `users`.
    pub fn binomial(users: f64, converted: f64) -> Self {
        let p = if users > 0.0 { converted / users } else { 0.0 };
        Cell {
            users,
            numerator: converted,
            denominator: users,
            mean: p,
            stddev: (p * (1.0 - p)).sqrt(),
        }
    }

    /// A per-user mean with standard deviation `sd`.
    pub fn mean(users: f64, mean: f64, sd: f64) -> Self {
        Cell {
            users,
            numerator: users * mean,
            denominator: users,
            mean,
            stddev: sd,
        }
    }
}

/// A metric definition: legacy (`met_…`: `kind` binomial, count, duration or revenue) or a
/// fact metric (`fact__…`: `kind` proportion, mean, ratio …).
#[derive(Debug, Clone)]
pub struct Metric {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Lower is better.
    pub inverse: bool,
}

/// An experiment as the test sets it up.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// `exp_…`.
    pub id: String,
    pub tracking_key: String,
    pub name: String,
    /// draft, running or stopped.
    pub status: String,
    pub archived: bool,
    /// (variationId, name), control first.
    pub variations: Vec<(String, String)>,
    pub weights: Vec<f64>,
    /// ISO 8601.
    pub date_started: String,
    pub date_updated: String,
    pub linked_features: Vec<String>,
    pub goals: Vec<String>,
    pub secondary: Vec<String>,
    pub guardrails: Vec<String>,
    /// bayesian or frequentist.
    pub engine: String,
    /// The latest snapshot: its id, the variation ids it was taken with, and per metric id
    /// one cell per variation.
    pub snapshot: Option<Snapshot>,
    /// The snapshot by the date dimension (`pre:date`): per day (`YYYY-MM-DD`), per metric id,
    /// one cell per variation over the units first exposed that day. Empty: none was made.
    pub by_date: Vec<(String, MetricCells)>,
    pub(crate) date_ended: String,
    pub(crate) result_summary: Option<Value>,
}

impl Experiment {
    /// A running experiment with an equal split over `variations` (control first), started
    /// at `date_started`.
    pub fn new(id: &str, tracking_key: &str, name: &str, variations: &[(&str, &str)]) -> Self {
        let n = variations.len().max(1) as f64;
        Experiment {
            id: id.into(),
            tracking_key: tracking_key.into(),
            name: name.into(),
            status: "running".into(),
            archived: false,
            variations: variations
                .iter()
                .map(|(i, n)| (i.to_string(), n.to_string()))
                .collect(),
            weights: vec![1.0 / n; variations.len()],
            date_started: "2026-01-01T00:00:00.000Z".into(),
            date_updated: "2026-01-01T00:00:00.000Z".into(),
            linked_features: vec![],
            goals: vec![],
            secondary: vec![],
            guardrails: vec![],
            engine: "frequentist".into(),
            snapshot: None,
            by_date: vec![],
            date_ended: String::new(),
            result_summary: None,
        }
    }
}

/// Per metric id, one cell per variation.
pub type MetricCells = Vec<(String, Vec<Cell>)>;

/// A results snapshot: its id, the variation ids when it was taken (an experiment edited
/// since lists others), and per metric id one cell per variation.
pub type Snapshot = (String, Vec<String>, Vec<(String, Vec<Cell>)>);

/// A stop as the API received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    pub experiment: String,
    pub results: String,
    pub released_variation: Option<String>,
    pub temporary_rollout: bool,
}

struct Inner {
    key: String,
    experiments: Vec<Experiment>,
    metrics: Vec<Metric>,
    faults: VecDeque<GbFault>,
    /// Requests allowed per window (GrowthBook's default: 60 a minute).
    limit: u32,
    window: Duration,
    window_start: Instant,
    used: u32,
    requests: u64,
    /// Requests refused for the limit (429s, injected ones aside).
    limited: u64,
    stops: Vec<Stop>,
    /// Experiments whose results answer with this status every time (a deleted data source).
    broken_results: std::collections::HashMap<String, u16>,
}

/// The fake's state, shared with the running server.
#[derive(Clone)]
pub struct GrowthBook(Arc<Mutex<Inner>>);

impl GrowthBook {
    /// A GrowthBook accepting secret key `key`, with its default limit of 60 requests a minute.
    pub fn new(key: &str) -> Self {
        GrowthBook(Arc::new(Mutex::new(Inner {
            key: key.into(),
            experiments: vec![],
            metrics: vec![],
            faults: VecDeque::new(),
            limit: 60,
            window: Duration::from_secs(60),
            window_start: Instant::now(),
            used: 0,
            requests: 0,
            limited: 0,
            stops: vec![],
            broken_results: Default::default(),
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// Adds or replaces (by id) an experiment; a replacement without a snapshot keeps the
    /// one taken before.
    pub fn put_experiment(&self, mut e: Experiment) {
        self.with(|i| {
            if let Some(old) = i.experiments.iter().find(|x| x.id == e.id) {
                if e.snapshot.is_none() {
                    e.snapshot = old.snapshot.clone();
                }
            }
            i.experiments.retain(|x| x.id != e.id);
            i.experiments.push(e);
        });
    }

    pub fn put_metric(&self, m: Metric) {
        self.with(|i| {
            i.metrics.retain(|x| x.id != m.id);
            i.metrics.push(m);
        });
    }

    /// Replaces experiment `id`'s latest snapshot.
    pub fn set_results(&self, id: &str, snapshot: &str, cells: Vec<(String, Vec<Cell>)>) {
        self.with(|i| {
            if let Some(e) = i.experiments.iter_mut().find(|e| e.id == id) {
                let ids = e.variations.iter().map(|(v, _)| v.clone()).collect();
                e.snapshot = Some((snapshot.into(), ids, cells));
            }
        });
    }

    /// Sets experiment `id`'s `dateUpdated` (ISO 8601), its latest snapshot's too.
    pub fn touch(&self, id: &str, date_updated: &str) {
        self.with(|i| {
            if let Some(e) = i.experiments.iter_mut().find(|e| e.id == id) {
                e.date_updated = date_updated.into();
            }
        });
    }

    /// Replaces experiment `id`'s snapshot by the date dimension (see `Experiment::by_date`).
    pub fn set_results_by_date(&self, id: &str, days: Vec<(String, MetricCells)>) {
        self.with(|i| {
            if let Some(e) = i.experiments.iter_mut().find(|e| e.id == id) {
                e.by_date = days;
            }
        });
    }

    /// `limit` requests per `window` per key (the real one: 60 a minute).
    pub fn set_rate_limit(&self, limit: u32, window: Duration) {
        self.with(|i| {
            i.limit = limit;
            i.window = window;
            i.window_start = Instant::now();
            i.used = 0;
        });
    }

    /// Experiment `id`'s results answer `status` (500: its data source is gone) from now on.
    pub fn break_results(&self, id: &str, status: u16) {
        self.with(|i| {
            i.broken_results.insert(id.into(), status);
        });
    }

    pub fn push_fault(&self, f: GbFault) {
        self.with(|i| i.faults.push_back(f));
    }

    /// Requests answered (any status).
    pub fn requests(&self) -> u64 {
        self.with(|i| i.requests)
    }

    /// Requests refused for going over the limit.
    pub fn limited(&self) -> u64 {
        self.with(|i| i.limited)
    }

    /// Every stop received, in order (a resent one shows twice).
    pub fn stops(&self) -> Vec<Stop> {
        self.with(|i| i.stops.clone())
    }

    /// Experiment `id`'s status now.
    pub fn status(&self, id: &str) -> Option<String> {
        self.with(|i| {
            i.experiments
                .iter()
                .find(|e| e.id == id)
                .map(|e| e.status.clone())
        })
    }

    /// Serves the API on 127.0.0.1 (port 0: any free one); returns the base URL (GrowthBook's
    /// API host: the paths start `/api/v1`).
    pub async fn serve(&self, port: u16) -> std::io::Result<String> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/api/v1/experiments", get(list_experiments))
            .route("/api/v1/experiments/{id}", get(get_experiment))
            .route("/api/v1/experiments/{id}/results", get(get_results))
            .route("/api/v1/experiments/{id}/stop", post(stop_experiment))
            .route("/api/v1/metrics/{id}", get(get_metric))
            .route("/api/v1/fact-metrics/{id}", get(get_fact_metric))
            .fallback(|| async { message(StatusCode::NOT_FOUND, "Unknown API endpoint") })
            .with_state(self.clone())
            .layer(axum::middleware::from_fn(|req, next| {
                crate::journal::layer("growthbook", req, next)
            }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{addr}"))
    }
}

fn message(status: StatusCode, m: &str) -> Response {
    (status, axum::Json(json!({ "message": m }))).into_response()
}

/// The `RateLimit-*` headers every answer past authentication carries.
type Limits = [(&'static str, String); 3];

/// The `RateLimit-*` headers of an answer (express-rate-limit's standard headers).
fn limit_headers(i: &Inner) -> Limits {
    // Whole seconds, rounded up, as express-rate-limit counts them.
    let reset = i
        .window
        .saturating_sub(i.window_start.elapsed())
        .as_millis()
        .div_ceil(1000);
    [
        ("ratelimit-limit", i.limit.to_string()),
        (
            "ratelimit-remaining",
            i.limit.saturating_sub(i.used).to_string(),
        ),
        ("ratelimit-reset", reset.to_string()),
    ]
}

/// Authentication, then the rate limit, then any queued fault, as GrowthBook's middleware
/// runs them. `Err` is the answer; `Ok` carries the headers every answer gets and whether the
/// request's effect is to be kept with its answer lost (`AfterApply`).
#[allow(clippy::result_large_err)]
fn gate(gb: &GrowthBook, headers: &HeaderMap) -> Result<(Limits, Option<u16>), Response> {
    gb.with(|i| {
        i.requests += 1;
        let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Err(message(StatusCode::BAD_REQUEST, "Missing Authorization header"));
        };
        let key = if let Some(k) = auth.strip_prefix("Bearer ") {
            k.to_string()
        } else if let Some(b) = auth.strip_prefix("Basic ") {
            let decoded = base64_decode(b.trim()).unwrap_or_default();
            decoded.split(':').next().unwrap_or_default().to_string()
        } else {
            return Err(message(
                StatusCode::BAD_REQUEST,
                "Must use either a Bearer or Basic authentication scheme",
            ));
        };
        if key.is_empty() {
            return Err(message(StatusCode::BAD_REQUEST, "Missing API key in Authorization header"));
        }
        if key != i.key {
            return Err(message(StatusCode::UNAUTHORIZED, "Invalid API key"));
        }
        if i.window_start.elapsed() >= i.window {
            i.window_start = Instant::now();
            i.used = 0;
        }
        i.used += 1;
        let headers = limit_headers(i);
        if i.used > i.limit {
            i.limited += 1;
            let retry = i.window.saturating_sub(i.window_start.elapsed()).as_secs().max(1);
            let body = json!({ "message": format!("Too many requests, limit to {} per minute", i.limit) });
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                headers,
                [("retry-after", retry.to_string())],
                axum::Json(body),
            )
                .into_response());
        }
        match i.faults.pop_front() {
            Some(GbFault::Status(code)) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
                let body = json!({"status": code, "message": "Internal Server Error", "errorId": "err_fake"});
                Err((status, headers, axum::Json(body)).into_response())
            }
            Some(GbFault::RateLimited { retry_after }) => {
                let body = json!({ "message": format!("Too many requests, limit to {} per minute", i.limit) });
                Err((
                    StatusCode::TOO_MANY_REQUESTS,
                    headers,
                    [("retry-after", retry_after.to_string())],
                    axum::Json(body),
                )
                    .into_response())
            }
            Some(GbFault::AfterApply(code)) => Ok((headers, Some(code))),
            None => Ok((headers, None)),
        }
    })
}

/// Standard base64 (a Basic credential), without padding checks.
fn base64_decode(s: &str) -> Option<String> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).ok()
}

fn metric_refs(ids: &[String]) -> Vec<Value> {
    ids.iter()
        .map(|m| json!({"metricId": m, "overrides": {}}))
        .collect()
}

fn settings_json(e: &Experiment) -> Value {
    json!({
        "datasourceId": "ds_fake", "assignmentQueryId": "user_id", "experimentId": e.tracking_key,
        "segmentId": "", "queryFilter": "", "inProgressConversions": "include",
        "attributionModel": "firstExposure", "statsEngine": e.engine,
        "goals": metric_refs(&e.goals), "secondaryMetrics": metric_refs(&e.secondary),
        "guardrails": metric_refs(&e.guardrails),
        "regressionAdjustmentEnabled": false, "sequentialTestingEnabled": false,
        "sequentialTestingTuningParameter": 5000
    })
}

fn experiment_json(e: &Experiment) -> Value {
    let mut v = json!({
        "id": e.id, "trackingKey": e.tracking_key,
        "dateCreated": e.date_started, "dateUpdated": e.date_updated,
        "name": e.name, "type": "standard", "project": "", "hypothesis": "", "description": "",
        "tags": [], "owner": "", "archived": e.archived, "status": e.status, "autoRefresh": true,
        "hashAttribute": "id", "hashVersion": 2,
        "variations": e.variations.iter().enumerate().map(|(k, (id, name))| json!({
            "variationId": id, "key": k.to_string(), "name": name, "description": "", "screenshots": []
        })).collect::<Vec<_>>(),
        "phases": [{
            "name": "Main", "dateStarted": e.date_started, "dateEnded": e.date_ended,
            "reasonForStopping": "", "seed": e.tracking_key, "coverage": 1,
            "trafficSplit": e.variations.iter().zip(&e.weights).map(|((id, _), w)| json!({
                "variationId": id, "weight": w
            })).collect::<Vec<_>>(),
            "targetingCondition": "", "prerequisites": [], "savedGroupTargeting": []
        }],
        "settings": settings_json(e),
        "shareLevel": "organization", "linkedFeatures": e.linked_features,
        "hasVisualChangesets": false, "hasURLRedirects": false, "customFields": {}
    });
    if let Some(s) = &e.result_summary {
        v["resultSummary"] = s.clone();
    }
    v
}

type Params = Query<Vec<(String, String)>>;

fn param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

async fn list_experiments(
    State(gb): State<GrowthBook>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let (limits, _) = match gate(&gb, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let limit: i64 = match param(&q, "limit").map(str::parse) {
        None => 10,
        Some(Ok(l)) => l,
        Some(Err(_)) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Querystring: [limit] Expected number, received nan",
            )
        }
    };
    if !(1..=100).contains(&limit) {
        return message(
            StatusCode::BAD_REQUEST,
            "Pagination limit must be between 1 and 100",
        );
    }
    let offset: i64 = param(&q, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    if offset < 0 {
        return message(StatusCode::BAD_REQUEST, "Invalid pagination offset");
    }
    let tracking = param(&q, "experimentId").or(param(&q, "trackingKey"));
    let all: Vec<Value> = gb.with(|i| {
        i.experiments
            .iter()
            .filter(|e| tracking.is_none_or(|t| e.tracking_key == t))
            .map(experiment_json)
            .collect()
    });
    let total = all.len() as i64;
    let page: Vec<Value> = all
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    let has_more = offset + limit < total;
    let body = json!({
        "experiments": page, "limit": limit, "offset": offset, "count": page.len(),
        "total": total, "hasMore": has_more,
        "nextOffset": if has_more { json!(offset + limit) } else { Value::Null },
    });
    (limits, axum::Json(body)).into_response()
}

async fn get_experiment(
    State(gb): State<GrowthBook>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (limits, _) = match gate(&gb, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let Some(e) = gb.with(|i| i.experiments.iter().find(|e| e.id == id).cloned()) else {
        return message(StatusCode::NOT_FOUND, "Experiment not found");
    };
    let mut v = experiment_json(&e);
    v["enhancedStatus"] = json!({"status": if e.status == "stopped" { "Stopped" } else if e.status == "draft" { "Draft" } else { "Running" }});
    (limits, axum::Json(json!({ "experiment": v }))).into_response()
}

/// Φ(x) by Abramowitz–Stegun 7.1.26: enough for a fake's p-values.
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// GrowthBook's analysis of variation `v` against control `c` (relative lift, as a fraction).
fn analysis(engine: &str, c: &Cell, v: &Cell, baseline: bool) -> Value {
    let mut a = json!({
        "engine": engine, "numerator": v.numerator, "denominator": v.denominator,
        "mean": v.mean, "stddev": v.stddev, "percentChange": 0, "ciLow": 0, "ciHigh": 0,
        "pValue": 0, "risk": 0, "chanceToBeatControl": 0
    });
    if baseline || c.mean == 0.0 || c.users < 2.0 || v.users < 2.0 {
        return a;
    }
    let lift = v.mean / c.mean - 1.0;
    // Delta method for the ratio of two independent means.
    let var = (v.stddev.powi(2) / v.users) / c.mean.powi(2)
        + v.mean.powi(2) * (c.stddev.powi(2) / c.users) / c.mean.powi(4);
    let se = var.sqrt();
    a["percentChange"] = json!(lift);
    a["ciLow"] = json!(lift - 1.959_964 * se);
    a["ciHigh"] = json!(lift + 1.959_964 * se);
    let z = if se > 0.0 { lift / se } else { 0.0 };
    if engine == "bayesian" {
        a["chanceToBeatControl"] = json!(normal_cdf(z));
    } else {
        a["pValue"] = json!(2.0 * (1.0 - normal_cdf(z.abs())));
    }
    a
}

async fn get_results(
    State(gb): State<GrowthBook>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let (limits, _) = match gate(&gb, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let Some(e) = gb.with(|i| i.experiments.iter().find(|e| e.id == id).cloned()) else {
        return message(StatusCode::NOT_FOUND, "Experiment not found");
    };
    if let Some(code) = gb.with(|i| i.broken_results.get(&id).copied()) {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"status": code, "message": "Error running query: relation \"events\" does not exist"});
        return (status, axum::Json(body)).into_response();
    }
    if param(&q, "phase").is_some_and(|p| p != "0") {
        return message(StatusCode::BAD_REQUEST, "Invalid phase");
    }
    let no_results = || {
        (
            limits.clone(),
            message(
                StatusCode::BAD_REQUEST,
                "No results found for that experiment",
            ),
        )
            .into_response()
    };
    let Some((snapshot, ids, cells)) = &e.snapshot else {
        return no_results();
    };
    // GrowthBook keeps a snapshot per dimension; only the date one is modelled here.
    let (dimension, rows) = match param(&q, "dimension") {
        None | Some("") => (json!({"type": "none"}), vec![("All".to_string(), cells)]),
        Some("pre:date") if !e.by_date.is_empty() => (
            json!({"type": "predefined", "id": "pre:date"}),
            e.by_date.iter().map(|(d, c)| (d.clone(), c)).collect(),
        ),
        Some(_) => return no_results(),
    };
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(label, cells)| {
            let total_users: f64 = cells
                .first()
                .map(|(_, cs)| cs.iter().map(|c| c.users).sum())
                .unwrap_or(0.0);
            let metrics: Vec<Value> = cells
                .iter()
                .map(|(metric, cs)| {
                    let control = cs.first().copied().unwrap_or(Cell::binomial(0.0, 0.0));
                    json!({
                        "metricId": metric,
                        "variations": ids.iter().zip(cs).enumerate().map(|(k, (vid, c))| json!({
                            "variationId": vid, "users": c.users,
                            "analyses": [analysis(&e.engine, &control, c, k == 0)]
                        })).collect::<Vec<_>>()
                    })
                })
                .collect();
            // The SRM p-value GrowthBook computes is not needed by Flightdeck (it computes
            // its own); the fake reports 1.
            json!({
                "dimension": label, "totalUsers": total_users, "checks": {"srm": 1},
                "metrics": metrics
            })
        })
        .collect();
    let body = json!({"result": {
        "id": snapshot, "dateUpdated": e.date_updated, "experimentId": e.id, "phase": "0",
        "dimension": dimension, "dateStart": e.date_started, "dateEnd": e.date_updated,
        "settings": settings_json(&e), "queryIds": [],
        "results": rows
    }});
    (limits, axum::Json(body)).into_response()
}

async fn stop_experiment(
    State(gb): State<GrowthBook>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (limits, lose_answer) = match gate(&gb, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return message(StatusCode::BAD_REQUEST, "Request body: Invalid JSON");
    };
    let results = b["results"].as_str().unwrap_or_default().to_string();
    if !matches!(results.as_str(), "dnf" | "won" | "lost" | "inconclusive") {
        return message(
            StatusCode::BAD_REQUEST,
            "Request body: [results] Invalid enum value. Expected 'dnf' | 'won' | 'lost' | 'inconclusive'",
        );
    }
    let released = b["releasedVariationId"].as_str().map(str::to_string);
    let rollout = b["enableTemporaryRollout"].as_bool().unwrap_or(false);
    if rollout && released.is_none() {
        return message(
            StatusCode::BAD_REQUEST,
            "releasedVariationId is required when enableTemporaryRollout is true",
        );
    }
    let answer = gb.with(|i| {
        let e = i.experiments.iter_mut().find(|e| e.id == id)?;
        if let Some(r) = &released {
            if !e.variations.iter().any(|(v, _)| v == r) {
                return Some(Err(format!("Unknown variation id: {r}")));
            }
        }
        e.status = "stopped".into();
        e.date_ended = b["dateEnded"]
            .as_str()
            .unwrap_or("2026-12-05T00:00:00.000Z")
            .to_string();
        let winner = b["winnerVariationId"]
            .as_str()
            .map(str::to_string)
            .or_else(|| released.clone())
            .unwrap_or_else(|| {
                e.variations
                    .first()
                    .map(|v| v.0.clone())
                    .unwrap_or_default()
            });
        e.result_summary = Some(json!({
            "status": results, "winner": winner,
            "conclusions": b["analysis"].as_str().unwrap_or_default(),
            "releasedVariationId": released.clone().unwrap_or_default(),
            "excludeFromPayload": !rollout
        }));
        let mut v = experiment_json(e);
        v["enhancedStatus"] = json!({"status": "Stopped"});
        i.stops.push(Stop {
            experiment: id.clone(),
            results: results.clone(),
            released_variation: released.clone(),
            temporary_rollout: rollout,
        });
        Some(Ok(v))
    });
    match answer {
        None => message(StatusCode::NOT_FOUND, "Experiment not found"),
        Some(Err(m)) => message(StatusCode::BAD_REQUEST, &m),
        Some(Ok(_)) if lose_answer.is_some() => {
            let code = lose_answer.unwrap_or(502);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            (
                status,
                axum::Json(json!({"status": code, "message": "Internal Server Error"})),
            )
                .into_response()
        }
        Some(Ok(v)) => (limits, axum::Json(json!({ "experiment": v }))).into_response(),
    }
}

async fn get_metric(
    State(gb): State<GrowthBook>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (limits, _) = match gate(&gb, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let Some(m) = gb.with(|i| {
        i.metrics
            .iter()
            .find(|m| m.id == id && !id.starts_with("fact__"))
            .cloned()
    }) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Could not find metric with that id",
        );
    };
    let body = json!({"metric": {
        "id": m.id, "managedBy": "", "dateCreated": "2026-01-01T00:00:00.000Z",
        "dateUpdated": "2026-01-01T00:00:00.000Z", "owner": "", "datasourceId": "ds_fake",
        "name": m.name, "description": "", "type": m.kind, "tags": [], "projects": [],
        "archived": false,
        "behavior": {"goal": if m.inverse { "decrease" } else { "increase" },
                     "windowSettings": {"type": "none"}}
    }});
    (limits, axum::Json(body)).into_response()
}

async fn get_fact_metric(
    State(gb): State<GrowthBook>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (limits, _) = match gate(&gb, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let Some(m) = gb.with(|i| {
        i.metrics
            .iter()
            .find(|m| m.id == id && id.starts_with("fact__"))
            .cloned()
    }) else {
        return message(
            StatusCode::NOT_FOUND,
            "Could not find factMetric with that id",
        );
    };
    let body = json!({"factMetric": {
        "id": m.id, "name": m.name, "description": "", "owner": "", "projects": [], "tags": [],
        "datasource": "ds_fake", "dateCreated": "2026-01-01T00:00:00.000Z",
        "dateUpdated": "2026-01-01T00:00:00.000Z", "archived": false,
        "metricType": m.kind, "inverse": m.inverse, "managedBy": "",
        "numerator": {"factTableId": "ftb_fake", "column": "value"}
    }});
    (limits, axum::Json(body)).into_response()
}
