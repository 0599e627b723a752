//! Experiments from GrowthBook's REST API (`/api/v1`): experiments with their phase, variations,
//! tracking key and linked feature flags, and each metric's per-variation aggregates from the
//! latest results snapshot, turned into the sufficient statistics Flightdeck's own statistics
//! read. The secret key comes from `GROWTHBOOK_API_KEY` or the OS keyring, is never stored, and
//! is sent only to the configured API host (`http://` only to loopback). The discipline of the
//! other API clients: pages followed to the end, rate limits honoured (`Retry-After`, and a
//! pause when `RateLimit-Remaining` reaches 0), server errors retried with jittered backoff.
//! Incremental: an experiment whose snapshot and update time are those read last is skipped.
//!
//! The results API gives per variation the users, the metric's sum (`numerator`), its mean and
//! standard deviation. From these, exactly: n = users, Σx = n·mean, Σx² = (n−1)·sd² + n·mean²
//! (a binomial's Σx² = Σx). A ratio metric's `stddev` is GrowthBook's delta-method deviation of
//! the ratio per unit, so it is kept as a mean of that ratio with that deviation: the same
//! variance the delta method gives, without the cross sums the API does not expose.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::model::{
    Experiment, ExperimentKey, ExperimentMetric, ExperimentOrigin, ExperimentState, History,
    HistoryPoint, MetricKind, MetricSums, Variant,
};
use crate::store::Store;

pub const GROWTHBOOK_API: &str = "https://api.growthbook.io";
/// The environment variable holding the secret key.
pub const KEY_VAR: &str = "GROWTHBOOK_API_KEY";
/// The OS keyring account of the key for the API at `api_url` (`flightdeck token set --for
/// growthbook`): one per host, so a key is only ever read for the host it was stored for.
pub fn account(api_url: &str) -> String {
    let host = reqwest::Url::parse(api_url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                format!(
                    "{h}{}",
                    u.port().map(|p| format!(":{p}")).unwrap_or_default()
                )
            })
        })
        .unwrap_or_else(|| api_url.to_string());
    format!("growthbook:{host}")
}
const ATTEMPTS: u32 = 4;
/// A wait longer than this ends the sync (it goes on at the next one).
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Experiments per page (GrowthBook's maximum).
const PAGE: usize = 100;

/// `[growthbook]` in the config file: the API host (self-hosted, or GrowthBook Cloud by
/// default). The key is never configured here.
#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub api_url: Option<String>,
}

impl Config {
    /// `FLIGHTDECK_GROWTHBOOK_API`, else the file's, else GrowthBook Cloud.
    pub fn url(&self) -> String {
        crate::model::toml_file::env_or("FLIGHTDECK_GROWTHBOOK_API", self.api_url.clone())
            .unwrap_or_else(|| GROWTHBOOK_API.into())
    }
}

/// The secret key for the API at `api_url`: `GROWTHBOOK_API_KEY`, else the one the OS keyring
/// holds for that host.
pub fn key(api_url: &str) -> Option<String> {
    if let Ok(k) = std::env::var(KEY_VAR) {
        if !k.trim().is_empty() {
            return Some(k.trim().to_string());
        }
    }
    crate::model::secrets::get(&account(api_url))
        .ok()
        .flatten()
        .filter(|k| !k.trim().is_empty())
}

#[derive(Debug, thiserror::Error)]
pub enum GrowthBookError {
    #[error(
        "growthbook: no API key: set {KEY_VAR} or run `flightdeck token set --for growthbook`"
    )]
    NoKey,
    #[error("growthbook: {0}")]
    Url(String),
    #[error("growthbook: the API key was refused ({status}): {message}")]
    Auth { status: u16, message: String },
    #[error("growthbook: rate limited; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("growthbook: {url} answered {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("growthbook: {url}: {message}")]
    Network { url: String, message: String },
    #[error("growthbook: {url}: unexpected answer: {message}")]
    Shape { url: String, message: String },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

impl GrowthBookError {
    /// Whether a later attempt may succeed (rate limits, server errors, the network).
    pub fn passing(&self) -> bool {
        match self {
            GrowthBookError::RateLimited { .. } | GrowthBookError::Network { .. } => true,
            GrowthBookError::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// A client for one GrowthBook API host.
pub struct GrowthBookApi {
    base: String,
    key: String,
    http: reqwest::Client,
    backoff: Duration,
    /// Not before this: the rate limit's window was used up.
    paused_until: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Refuses a base URL the key must not be sent to: anything but `https://`, except `http://`
/// to a loopback address (a self-hosted GrowthBook on this machine, the tests' fake).
fn check_url(base: &str) -> Result<(), GrowthBookError> {
    crate::model::secrets::check_secret_url(base)
        .map(drop)
        .map_err(GrowthBookError::Url)
}

impl GrowthBookApi {
    pub fn new(base: &str, key: String) -> Result<Self, GrowthBookError> {
        let base = base.trim_end_matches('/').trim_end_matches("/api/v1");
        check_url(base)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // The key goes to this host only: a redirect elsewhere is not followed.
            .redirect(crate::model::secrets::same_origin_redirects())
            .build()
            .map_err(|e| GrowthBookError::Network {
                url: base.into(),
                message: e.to_string(),
            })?;
        Ok(GrowthBookApi {
            base: base.to_string(),
            key,
            http,
            backoff: Duration::from_millis(500),
            paused_until: std::sync::Mutex::new(None),
        })
    }

    /// The configured client: `None` when there is no key here.
    pub fn configured(cfg_url: &str) -> Result<Option<Self>, GrowthBookError> {
        match key(cfg_url) {
            Some(k) => Self::new(cfg_url, k).map(Some),
            None => Ok(None),
        }
    }

    /// First retry delay (doubles per attempt); tests shorten it.
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// The API host (what the key is bound to).
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn wait_for_window(&self) {
        let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = until {
            let now = std::time::Instant::now();
            if t > now {
                tokio::time::sleep(t - now).await;
            }
        }
    }

    /// One request with retries: `body` makes it a POST. A 404 is `Ok(None)`.
    async fn call(
        &self,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, GrowthBookError> {
        let url = format!("{}/api/v1{path}", self.base);
        let policy = super::retry::Retry {
            attempts: ATTEMPTS,
            backoff: self.backoff,
            max_wait: MAX_WAIT,
            // A POST that may have arrived is not resent here: the outbox checks first.
            resend: body.is_none(),
        };
        let request = || async {
            self.wait_for_window().await;
            let req = match body {
                Some(b) => self
                    .http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(b.to_string()),
                None => self.http.get(&url),
            };
            req.bearer_auth(&self.key)
        };
        // `RateLimit-Remaining` at 0: the next request waits for the window to reset.
        let watch = |h: &reqwest::header::HeaderMap| {
            let header = |name: &str| {
                h.get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            if header("ratelimit-remaining") == Some(0) {
                let reset = Duration::from_secs(header("ratelimit-reset").unwrap_or(60));
                if reset <= MAX_WAIT {
                    *self.paused_until.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(std::time::Instant::now() + reset);
                }
            }
        };
        let (status, text) = match super::retry::send(policy, "growthbook", request, watch).await {
            super::retry::Sent::Answered { status, text } => (status, text),
            super::retry::Sent::RateLimited { retry_after_secs } => {
                return Err(GrowthBookError::RateLimited { retry_after_secs })
            }
            super::retry::Sent::Network(message) => {
                return Err(GrowthBookError::Network { url, message })
            }
        };
        match status {
            200..=299 => {
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| GrowthBookError::Shape {
                        url,
                        message: e.to_string(),
                    })
            }
            404 => Ok(None),
            401 | 403 => Err(GrowthBookError::Auth {
                status,
                message: message_of(&text),
            }),
            400 if message_of(&text).contains("Authorization") => Err(GrowthBookError::Auth {
                status,
                message: message_of(&text),
            }),
            _ => Err(GrowthBookError::Http {
                url,
                status,
                message: message_of(&text),
            }),
        }
    }

    async fn get(&self, path: &str) -> Result<Option<Value>, GrowthBookError> {
        self.call(path, None).await
    }

    /// Every experiment, page by page.
    pub async fn experiments(&self) -> Result<Vec<Value>, GrowthBookError> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        for _ in 0..10_000 {
            let path = format!("/experiments?limit={PAGE}&offset={offset}");
            let page = self
                .get(&path)
                .await?
                .ok_or_else(|| GrowthBookError::Shape {
                    url: path.clone(),
                    message: "404: is this a GrowthBook API host?".into(),
                })?;
            let items = page["experiments"]
                .as_array()
                .ok_or_else(|| GrowthBookError::Shape {
                    url: path.clone(),
                    message: "no `experiments` list".into(),
                })?;
            out.extend(items.iter().cloned());
            match (page["hasMore"].as_bool(), page["nextOffset"].as_u64()) {
                (Some(true), Some(next)) if next > offset => offset = next,
                _ => return Ok(out),
            }
        }
        Err(GrowthBookError::Shape {
            url: "/experiments".into(),
            message: "more than 10,000 pages".into(),
        })
    }

    /// Experiment `id` (GrowthBook's `exp_…`), or `None` when it does not exist.
    pub async fn experiment(&self, id: &str) -> Result<Option<Value>, GrowthBookError> {
        Ok(self
            .get(&format!("/experiments/{}", encode(id)))
            .await?
            .map(|v| v["experiment"].clone()))
    }

    /// The latest results snapshot of experiment `id`, or `None` when it has none yet; by
    /// `dimension` when one is given (`pre:date`: units by the day they were first exposed).
    async fn results(
        &self,
        id: &str,
        dimension: Option<&str>,
    ) -> Result<Option<Value>, GrowthBookError> {
        let query = dimension.map_or(String::new(), |d| format!("?dimension={}", encode(d)));
        match self
            .get(&format!("/experiments/{}/results{query}", encode(id)))
            .await
        {
            Ok(v) => Ok(v.map(|v| v["result"].clone())),
            // GrowthBook answers 400 for an experiment without a snapshot yet (of that
            // dimension: one is made when someone looks at it there).
            Err(GrowthBookError::Http { status: 400, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A metric's name, kind and direction: legacy `met_…` or fact `fact__…`.
    async fn metric(&self, id: &str) -> Result<MetricDef, GrowthBookError> {
        let fallback = MetricDef {
            name: id.to_string(),
            kind: MetricKind::Mean,
            inverse: false,
        };
        if id.starts_with("fact__") {
            let Some(v) = self.get(&format!("/fact-metrics/{}", encode(id))).await? else {
                return Ok(fallback);
            };
            let m = &v["factMetric"];
            Ok(MetricDef {
                name: m["name"].as_str().unwrap_or(id).to_string(),
                kind: match m["metricType"].as_str() {
                    Some("proportion" | "retention" | "dailyParticipation") => MetricKind::Binomial,
                    _ => MetricKind::Mean,
                },
                inverse: m["inverse"].as_bool().unwrap_or(false),
            })
        } else {
            let v = match self.get(&format!("/metrics/{}", encode(id))).await {
                Ok(Some(v)) => v,
                Ok(None) | Err(GrowthBookError::Http { status: 400, .. }) => return Ok(fallback),
                Err(e) => return Err(e),
            };
            let m = &v["metric"];
            Ok(MetricDef {
                name: m["name"].as_str().unwrap_or(id).to_string(),
                kind: if m["type"].as_str() == Some("binomial") {
                    MetricKind::Binomial
                } else {
                    MetricKind::Mean
                },
                inverse: m["behavior"]["goal"].as_str() == Some("decrease"),
            })
        }
    }

    /// Stops experiment `id` with conclusion `results` (won, lost, inconclusive, dnf); with
    /// `release`, that variation is rolled out to everyone. `Ok(None)`: no such experiment.
    pub async fn stop(
        &self,
        id: &str,
        results: &str,
        release: Option<&str>,
        analysis: &str,
    ) -> Result<Option<Value>, GrowthBookError> {
        let mut body = serde_json::json!({ "results": results, "analysis": analysis });
        if let Some(v) = release {
            body["releasedVariationId"] = v.into();
            body["winnerVariationId"] = v.into();
            body["enableTemporaryRollout"] = true.into();
        }
        self.call(&format!("/experiments/{}/stop", encode(id)), Some(&body))
            .await
    }
}

/// Path-segment encoding for an id.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GrowthBook's error message (`{"message": …}`, sometimes with a `status`).
fn message_of(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

#[derive(Debug, Clone)]
struct MetricDef {
    name: String,
    kind: MetricKind,
    inverse: bool,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GrowthBookSync {
    /// Experiments GrowthBook listed.
    pub listed: usize,
    /// Stored anew (new results or a changed experiment).
    pub updated: usize,
    /// As read last time: nothing written.
    pub unchanged: usize,
    /// Drafts and archived experiments, not read.
    pub skipped: usize,
    /// One line per experiment that could not be read (the others are stored).
    pub errors: Vec<String>,
}

/// Flightdeck's id of a GrowthBook experiment: its tracking key (what its code and its team
/// call it) when that is a plain id, else GrowthBook's own id.
pub fn local_id(e: &Value) -> String {
    let tracking = e["trackingKey"]
        .as_str()
        .or(e["settings"]["experimentId"].as_str())
        .unwrap_or_default();
    if !tracking.is_empty()
        && tracking
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        tracking.to_string()
    } else {
        e["id"].as_str().unwrap_or_default().to_string()
    }
}

/// Reads every experiment that changed since the last sync and stores it.
pub async fn sync(api: &GrowthBookApi, store: &Store) -> Result<GrowthBookSync, GrowthBookError> {
    let mut report = GrowthBookSync::default();
    let mut metrics: HashMap<String, MetricDef> = HashMap::new();
    let listed = api.experiments().await?;
    // GrowthBook allows two experiments one tracking key: both then go by their own ids, so
    // neither overwrites the other at every sync.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &listed {
        *seen.entry(local_id(e)).or_default() += 1;
    }
    for e in listed {
        report.listed += 1;
        let status = e["status"].as_str().unwrap_or_default();
        if e["archived"].as_bool().unwrap_or(false) || !matches!(status, "running" | "stopped") {
            report.skipped += 1;
            continue;
        }
        let gb_id = e["id"].as_str().unwrap_or_default().to_string();
        let id = match local_id(&e) {
            id if seen.get(&id).copied().unwrap_or(0) > 1 && !gb_id.is_empty() => gb_id.clone(),
            id => id,
        };
        match sync_one(api, store, &e, &gb_id, &id, &mut metrics).await {
            Ok(true) => report.updated += 1,
            Ok(false) => report.unchanged += 1,
            // The service as a whole failing (the key, the limit, the network) ends the sync;
            // one experiment GrowthBook cannot answer for, or that cannot be stored, does not.
            Err(GrowthBookError::Shape { message, .. }) => report
                .errors
                .push(format!("experiment {gb_id} ({id}): {message}")),
            Err(e @ (GrowthBookError::Http { .. } | GrowthBookError::Store(_))) => report
                .errors
                .push(format!("experiment {gb_id} ({id}): {e}")),
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// One experiment: `Ok(false)` when what GrowthBook has is what was read last.
async fn sync_one(
    api: &GrowthBookApi,
    store: &Store,
    e: &Value,
    gb_id: &str,
    id: &str,
    metrics: &mut HashMap<String, MetricDef>,
) -> Result<bool, GrowthBookError> {
    let shape = |message: String| GrowthBookError::Shape {
        url: format!("/experiments/{gb_id}"),
        message,
    };
    if gb_id.is_empty() {
        return Err(shape("an experiment without an `id`".into()));
    }
    let updated_at = e["dateUpdated"].as_str().unwrap_or_default().to_string();
    let results = api.results(gb_id, None).await?;
    let snapshot = results
        .as_ref()
        .and_then(|r| r["id"].as_str())
        .unwrap_or_default()
        .to_string();
    let known = store.experiment_origin(id).await?;
    if known.as_ref().is_some_and(|o| {
        o.source == "growthbook"
            && o.external_id == gb_id
            && o.snapshot == snapshot
            && o.updated_at == updated_at
    }) {
        return Ok(false);
    }
    let variations: Vec<(String, String)> = e["variations"]
        .as_array()
        .ok_or_else(|| shape("no `variations` list".into()))?
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let vid = v["variationId"].as_str().unwrap_or_default().to_string();
            let name = v["name"].as_str().filter(|n| !n.trim().is_empty());
            let name = name
                .map(str::to_string)
                .unwrap_or_else(|| format!("variation {k}"));
            (vid, name)
        })
        .collect();
    if variations.len() < 2 {
        return Err(shape(format!(
            "{} variations; at least 2 are needed",
            variations.len()
        )));
    }
    // Names show in the scorecard; two alike get their index so sums do not merge.
    let mut names: Vec<String> = variations.iter().map(|(_, n)| n.clone()).collect();
    for k in 0..names.len() {
        if names[..k].contains(&names[k]) {
            names[k] = format!("{} ({k})", names[k]);
        }
    }
    let name_of: HashMap<&str, &str> = variations
        .iter()
        .zip(&names)
        .map(|((vid, _), n)| (vid.as_str(), n.as_str()))
        .collect();
    let phase = e["phases"]
        .as_array()
        .and_then(|p| p.last())
        .cloned()
        .unwrap_or(Value::Null);
    let started_at = phase["dateStarted"]
        .as_str()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.timestamp())
        .or_else(|| {
            e["dateCreated"]
                .as_str()
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                .map(|d| d.timestamp())
        })
        .ok_or_else(|| shape("no start date (phase `dateStarted` or `dateCreated`)".into()))?;
    let weight_of: HashMap<&str, f64> = phase["trafficSplit"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| Some((w["variationId"].as_str()?, w["weight"].as_f64()?)))
        .collect();
    let settings = &e["settings"];
    let ids_of = |k: &str| -> Vec<String> {
        settings[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["metricId"].as_str().map(str::to_string))
            .collect()
    };
    let (goals, secondary, guardrails) = (
        ids_of("goals"),
        ids_of("secondaryMetrics"),
        ids_of("guardrails"),
    );
    let mut units: HashMap<String, f64> = HashMap::new();
    let mut metric_rows = Vec::new();
    let mut sums = Vec::new();
    let overall = results
        .as_ref()
        .and_then(|r| r["results"].as_array())
        .and_then(|rows| rows.first())
        .cloned()
        .unwrap_or(Value::Null);
    let listed: Vec<&String> = goals.iter().chain(&secondary).chain(&guardrails).collect();
    let mut ids_by_name: HashMap<String, String> = HashMap::new();
    // The metrics read, by GrowthBook id: their names here and kinds.
    let mut by_id: HashMap<String, (String, MetricKind)> = HashMap::new();
    for m in overall["metrics"].as_array().into_iter().flatten() {
        let Some(mid) = m["metricId"].as_str() else {
            return Err(shape("a result without its `metricId`".into()));
        };
        if !listed.iter().any(|l| l.as_str() == mid) {
            continue; // the activation metric, or one removed since the snapshot
        }
        if !metrics.contains_key(mid) {
            let def = api.metric(mid).await?;
            metrics.insert(mid.to_string(), def);
        }
        let def = metrics[mid].clone();
        let name = if metric_rows
            .iter()
            .any(|r: &ExperimentMetric| r.name == def.name)
        {
            mid.to_string()
        } else {
            def.name.clone()
        };
        for v in m["variations"].as_array().into_iter().flatten() {
            let vid = v["variationId"].as_str().unwrap_or_default();
            let Some(variation) = name_of.get(vid) else {
                return Err(shape(format!(
                    "metric {mid}: variation `{vid}` is not one of the experiment's"
                )));
            };
            let cell = cell_sums(def.kind, v, &name, variation)
                .map_err(|m| shape(format!("metric {mid}, variation {vid}: {m}")))?;
            units.entry(variation.to_string()).or_insert(cell.n);
            sums.push(cell);
        }
        ids_by_name.insert(name.clone(), mid.to_string());
        by_id.insert(mid.to_string(), (name.clone(), def.kind));
        metric_rows.push(ExperimentMetric {
            name,
            kind: def.kind,
            guardrail: guardrails.iter().any(|g| g == mid) && !goals.iter().any(|g| g == mid),
            inverse: def.inverse,
        });
    }
    // Goals first (the first is the primary metric), then secondary metrics, then guardrails,
    // as the experiment lists them, whatever order the snapshot has.
    metric_rows.sort_by_key(|m| {
        let id = ids_by_name
            .get(&m.name)
            .map(String::as_str)
            .unwrap_or_default();
        listed
            .iter()
            .position(|l| l.as_str() == id)
            .unwrap_or(usize::MAX)
    });
    let primary = metric_rows
        .iter()
        .find(|m| !m.guardrail)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let primary_kind = metric_rows
        .iter()
        .find(|m| m.name == primary)
        .map(|m| m.kind);
    let variants = variations
        .iter()
        .zip(&names)
        .map(|((vid, _), name)| Variant {
            name: name.clone(),
            units: units.get(name).copied().unwrap_or(0.0) as i64,
            conversions: match primary_kind {
                Some(MetricKind::Binomial) => sums
                    .iter()
                    .find(|s| s.metric == primary && &s.variation == name)
                    .map_or(0, |s| s.sum as i64),
                _ => 0,
            },
            weight: weight_of.get(vid.as_str()).copied(),
        })
        .collect();
    let experiment = Experiment {
        id: id.to_string(),
        name: e["name"].as_str().unwrap_or(id).to_string(),
        metric: primary,
        state: if e["status"].as_str() == Some("stopped") {
            ExperimentState::Stopped
        } else {
            ExperimentState::Running
        },
        started_at,
        variants,
    };
    let mut keys = vec![];
    if let Some(t) = e["trackingKey"]
        .as_str()
        .or(settings["experimentId"].as_str())
        .filter(|t| !t.is_empty())
    {
        keys.push(ExperimentKey {
            key: t.to_string(),
            kind: "tracking".into(),
        });
    }
    for f in e["linkedFeatures"].as_array().into_iter().flatten() {
        if let Some(f) = f.as_str().filter(|f| !f.is_empty()) {
            keys.push(ExperimentKey {
                key: f.to_string(),
                kind: "flag".into(),
            });
        }
    }
    let origin = ExperimentOrigin {
        source: "growthbook".into(),
        external_id: gb_id.to_string(),
        api_url: api.base.clone(),
        variation_ids: variations.iter().map(|(vid, _)| vid.clone()).collect(),
        snapshot,
        updated_at,
    };
    let read_at = results
        .as_ref()
        .and_then(|r| r["dateUpdated"].as_str())
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map_or_else(|| chrono::Utc::now().timestamp(), |d| d.timestamp());
    // This snapshot is the history's day it was updated. GrowthBook's results by date, made
    // when someone looks at them there and maybe long ago, give the days before it; they
    // replace the days they have and leave the others (those of earlier syncs).
    let today = HistoryPoint {
        day: crate::model::days::of(read_at),
        sums: sums.clone(),
    };
    let mut history = History {
        points: vec![today.clone()],
        whole: false,
    };
    let by_date = match api.results(gb_id, Some("pre:date")).await {
        Ok(r) => r,
        // The overall results stand without the breakdown; the service failing as a whole
        // (the key, the limit) ends the sync as elsewhere.
        Err(e @ (GrowthBookError::Http { .. } | GrowthBookError::Shape { .. })) => {
            tracing::warn!("GrowthBook experiment {gb_id}: results by date: {e}");
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(by_date) = by_date {
        match by_day(&by_date, &by_id, &name_of) {
            Ok(mut days) => {
                days.points.retain(|p| p.day < today.day);
                days.points.push(today);
                history = days;
            }
            Err(m) => tracing::warn!("GrowthBook experiment {gb_id}: results by date: {m}"),
        }
    }
    store
        .replace_synced_experiment(&experiment, &metric_rows, &sums, &history, &origin, &keys)
        .await?;
    Ok(true)
}

/// One variation's sums of one metric from a results row's `v`: n = users, Σx = n·mean,
/// Σx² = (n−1)·sd² + n·mean² (a binomial's Σx² = Σx).
fn cell_sums(
    kind: MetricKind,
    v: &Value,
    metric: &str,
    variation: &str,
) -> Result<MetricSums, String> {
    let a = &v["analyses"][0];
    let num = |k: &str| a[k].as_f64();
    let n = v["users"].as_f64().or(num("denominator")).unwrap_or(0.0);
    let (Some(sum), Some(mean), Some(sd)) = (num("numerator"), num("mean"), num("stddev")) else {
        return Err("no numerator, mean or stddev".into());
    };
    if n < 0.0 || !n.is_finite() || !mean.is_finite() || !sd.is_finite() || sd < 0.0 {
        return Err(format!(
            "users {n}, mean {mean}, stddev {sd} are not counts and moments"
        ));
    }
    let (sum, sum_squares) = match kind {
        MetricKind::Binomial => (sum, sum),
        _ => (n * mean, (n - 1.0).max(0.0) * sd * sd + n * mean * mean),
    };
    Ok(MetricSums {
        metric: metric.to_string(),
        variation: variation.to_string(),
        n,
        sum,
        sum_squares,
        denominator: None,
        pre: None,
    })
}

/// The history from results by the date of first exposure (`dimension=pre:date`): each
/// date's rows are the units first exposed that day, so each day's point is the running sum
/// of the days up to it. Metrics not in the overall results (`by_id`) are left out.
fn by_day(
    r: &Value,
    by_id: &HashMap<String, (String, MetricKind)>,
    name_of: &HashMap<&str, &str>,
) -> Result<History, String> {
    let mut days: Vec<(chrono::NaiveDate, &Value)> = Vec::new();
    for row in r["results"].as_array().into_iter().flatten() {
        let label = row["dimension"].as_str().unwrap_or_default();
        // GrowthBook labels days `YYYY-MM-DD`; a full time is accepted too.
        let day = crate::model::days::parse(label.get(..10).unwrap_or(label))
            .ok_or_else(|| format!("`{label}` is not a date"))?;
        days.push((day, row));
    }
    days.sort_by_key(|(d, _)| *d);
    let mut running: HashMap<(String, String), MetricSums> = HashMap::new();
    let mut points = Vec::new();
    for (day, row) in days {
        for m in row["metrics"].as_array().into_iter().flatten() {
            let mid = m["metricId"].as_str().unwrap_or_default();
            let Some((name, kind)) = by_id.get(mid) else {
                continue;
            };
            for v in m["variations"].as_array().into_iter().flatten() {
                let vid = v["variationId"].as_str().unwrap_or_default();
                let variation = name_of.get(vid).ok_or_else(|| {
                    format!("metric {mid}: variation `{vid}` is not one of the experiment's")
                })?;
                let c = cell_sums(*kind, v, name, variation)
                    .map_err(|e| format!("{day}, metric {mid}, variation {vid}: {e}"))?;
                let total = running
                    .entry((name.clone(), variation.to_string()))
                    .or_insert_with(|| MetricSums {
                        n: 0.0,
                        sum: 0.0,
                        sum_squares: 0.0,
                        ..c.clone()
                    });
                total.n += c.n;
                total.sum += c.sum;
                total.sum_squares += c.sum_squares;
            }
        }
        let mut sums: Vec<MetricSums> = running.values().cloned().collect();
        sums.sort_by(|a, b| (&a.metric, &a.variation).cmp(&(&b.metric, &b.variation)));
        points.push(HistoryPoint {
            day: day.format("%Y-%m-%d").to_string(),
            sums,
        });
    }
    Ok(History {
        points,
        whole: false,
    })
}

/// Syncs every `every` in the background (a network call never sits in a user's path).
pub fn spawn_periodic(
    store: Store,
    bus: crate::model::events::EventBus,
    api: Option<GrowthBookApi>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(api) = api else { return };
        loop {
            match sync(&api, &store).await {
                Ok(s) => {
                    tracing::info!(
                        "growthbook: {} experiments, {} updated",
                        s.listed,
                        s.updated
                    );
                    for e in &s.errors {
                        tracing::warn!("growthbook: {e}");
                    }
                    if s.updated > 0 {
                        bus.publish(crate::model::events::Event::Changed {
                            source: "growthbook".into(),
                            topics: vec!["experiments".into()],
                        });
                    }
                }
                Err(e) => tracing::warn!("{e}"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
