//! What the vendors billed: Anthropic's organization cost report and OpenAI's organization
//! costs, fetched with an admin key (never stored: environment or OS keyring), incrementally
//! (the last days again, since costs land late), with the discipline of the GitHub client —
//! pages followed to the end, rate limits honoured (`retry-after`), server errors and dropped
//! connections retried with jittered backoff — and reconciled per day and vendor against the
//! cost derived from agent logs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::store::{BilledLine, Store};

pub const ANTHROPIC_API: &str = "https://api.anthropic.com";
pub const OPENAI_API: &str = "https://api.openai.com";

/// `[billing]` in the config file: the vendors' cost API base URLs. The admin keys are never
/// configured; they come from the environment only.
#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub anthropic_api_url: Option<String>,
    pub openai_api_url: Option<String>,
}

impl Config {
    /// The Anthropic and OpenAI base URLs: `FLIGHTDECK_ANTHROPIC_API` and
    /// `FLIGHTDECK_OPENAI_API`, else the file's, else the vendors' own.
    pub fn urls(&self) -> (String, String) {
        use crate::model::toml_file::env_or;
        (
            env_or("FLIGHTDECK_ANTHROPIC_API", self.anthropic_api_url.clone())
                .unwrap_or_else(|| ANTHROPIC_API.into()),
            env_or("FLIGHTDECK_OPENAI_API", self.openai_api_url.clone())
                .unwrap_or_else(|| OPENAI_API.into()),
        )
    }
}
/// Days fetched on the first sync; later syncs start two days before the last one.
pub const FIRST_DAYS: i64 = 30;
const ATTEMPTS: u32 = 4;
/// A `retry-after` longer than this ends the sync (it goes on at the next one).
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("{vendor}: the admin key was refused ({status}): {message}")]
    Auth {
        vendor: &'static str,
        status: u16,
        message: String,
    },
    #[error("{vendor}: rate limited; try again in {retry_after_secs} s")]
    RateLimited {
        vendor: &'static str,
        retry_after_secs: u64,
    },
    #[error("{vendor}: {url} answered {status}: {message}")]
    Http {
        vendor: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    #[error("{vendor}: {url}: {message}")]
    Network {
        vendor: &'static str,
        url: String,
        message: String,
    },
    #[error("{vendor}: {url}: unexpected answer: {message}")]
    Shape {
        vendor: &'static str,
        url: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// One vendor's cost API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Anthropic,
    OpenAi,
}

impl Vendor {
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Anthropic => "anthropic",
            Vendor::OpenAi => "openai",
        }
    }

    /// The admin key: `ANTHROPIC_ADMIN_KEY` / `OPENAI_ADMIN_KEY`, else the OS keyring
    /// (`flightdeck token set --for anthropic|openai`).
    pub fn key(self) -> Option<String> {
        let var = match self {
            Vendor::Anthropic => "ANTHROPIC_ADMIN_KEY",
            Vendor::OpenAi => "OPENAI_ADMIN_KEY",
        };
        if let Ok(k) = std::env::var(var) {
            if !k.trim().is_empty() {
                return Some(k.trim().to_string());
            }
        }
        crate::model::secrets::get(&account(self))
            .ok()
            .flatten()
            .filter(|k| !k.trim().is_empty())
    }
}

/// The keyring account of a vendor's admin key.
pub fn account(v: Vendor) -> String {
    format!("billing:{}", v.name())
}

/// A client for one vendor's cost API.
pub struct CostApi {
    vendor: Vendor,
    base: String,
    key: String,
    http: reqwest::Client,
    backoff: Duration,
}

impl CostApi {
    /// A client sending `key` to `base` only: over https (plain http only to this machine),
    /// redirects followed only on its origin.
    pub fn new(vendor: Vendor, base: &str, key: String) -> Result<Self, BillingError> {
        crate::model::secrets::check_secret_url(base).map_err(|message| BillingError::Network {
            vendor: vendor.name(),
            url: base.into(),
            message,
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(crate::model::secrets::same_origin_redirects())
            .build()
            .map_err(|e| BillingError::Network {
                vendor: vendor.name(),
                url: base.into(),
                message: e.to_string(),
            })?;
        Ok(CostApi {
            vendor,
            base: base.trim_end_matches('/').to_string(),
            key,
            http,
            backoff: Duration::from_millis(500),
        })
    }

    /// First retry delay (doubles per attempt); tests shorten it.
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Value, BillingError> {
        let vendor = self.vendor.name();
        let url = format!("{}{path}", self.base);
        let policy = super::retry::Retry {
            attempts: ATTEMPTS,
            backoff: self.backoff,
            max_wait: MAX_WAIT,
            resend: true,
        };
        let request = || async {
            let req = self.http.get(&url).query(query);
            match self.vendor {
                Vendor::Anthropic => req
                    .header("x-api-key", &self.key)
                    .header("anthropic-version", "2023-06-01"),
                Vendor::OpenAi => req.bearer_auth(&self.key),
            }
        };
        let (status, text) = match super::retry::send(policy, vendor, request, |_| {}).await {
            super::retry::Sent::Answered { status, text } => (status, text),
            super::retry::Sent::RateLimited { retry_after_secs } => {
                return Err(BillingError::RateLimited {
                    vendor,
                    retry_after_secs,
                })
            }
            super::retry::Sent::Network(message) => {
                return Err(BillingError::Network {
                    vendor,
                    url,
                    message,
                })
            }
        };
        match status {
            200..=299 => serde_json::from_str(&text).map_err(|e| BillingError::Shape {
                vendor,
                url,
                message: e.to_string(),
            }),
            401 | 403 => Err(BillingError::Auth {
                vendor,
                status,
                message: message_of(&text),
            }),
            _ => Err(BillingError::Http {
                vendor,
                url,
                status,
                message: message_of(&text),
            }),
        }
    }

    /// Every page of a cost report for days `[from, to)`.
    async fn pages(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<Value>, BillingError> {
        let (path, mut query): (&str, Vec<(String, String)>) = match self.vendor {
            Vendor::Anthropic => (
                "/v1/organizations/cost_report",
                vec![
                    ("starting_at".into(), format!("{from}T00:00:00Z")),
                    ("ending_at".into(), format!("{to}T00:00:00Z")),
                    ("group_by[]".into(), "description".into()),
                    ("limit".into(), "31".into()),
                ],
            ),
            Vendor::OpenAi => (
                "/v1/organization/costs",
                vec![
                    (
                        "start_time".into(),
                        crate::model::days::midnight(from).to_string(),
                    ),
                    (
                        "end_time".into(),
                        crate::model::days::midnight(to).to_string(),
                    ),
                    ("bucket_width".into(), "1d".into()),
                    ("group_by[]".into(), "line_item".into()),
                    ("limit".into(), "180".into()),
                ],
            ),
        };
        let mut out = Vec::new();
        for _ in 0..1_000 {
            let page = self.get(path, &query).await?;
            let next = page["next_page"].as_str().map(str::to_string);
            let more = page["has_more"].as_bool().unwrap_or(false);
            out.push(page);
            match next {
                Some(token) if more => {
                    query.retain(|(k, _)| k != "page");
                    query.push(("page".into(), token));
                }
                _ => return Ok(out),
            }
        }
        Err(BillingError::Shape {
            vendor: self.vendor.name(),
            url: path.into(),
            message: "more than 1,000 pages".into(),
        })
    }
}

/// The vendor's error message from its error body (both vendors nest it under `error`).
fn message_of(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// One billed line: (day, line item, model, USD).
type Line = (String, String, String, f64);

/// The lines of a vendor's pages. Anthropic: `amount` is a decimal string in cents; OpenAI:
/// `amount.value` is dollars (a number, sometimes a string); `results` or `result`.
fn lines(vendor: Vendor, pages: &[Value]) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    for page in pages {
        for bucket in page["data"].as_array().into_iter().flatten() {
            let day = match vendor {
                Vendor::Anthropic => bucket["starting_at"]
                    .as_str()
                    .and_then(|s| s.get(..10))
                    .map(str::to_string),
                Vendor::OpenAi => bucket["start_time"]
                    .as_i64()
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .map(|d| d.format("%Y-%m-%d").to_string()),
            }
            .ok_or("a bucket without its start")?;
            let results = bucket["results"]
                .as_array()
                .or(bucket["result"].as_array())
                .into_iter()
                .flatten();
            for r in results {
                let (item, model, usd) = match vendor {
                    Vendor::Anthropic => {
                        let cents: f64 = r["amount"]
                            .as_str()
                            .and_then(|s| s.trim().parse().ok())
                            .ok_or_else(|| {
                            format!("amount {} is not decimal cents", r["amount"])
                        })?;
                        let model = r["model"].as_str().unwrap_or("(all)").to_string();
                        let item = r["description"]
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| {
                                format!("{model} {}", r["token_type"].as_str().unwrap_or("total"))
                            });
                        (item, model, cents / 100.0)
                    }
                    Vendor::OpenAi => {
                        let v = &r["amount"]["value"];
                        let usd = v
                            .as_f64()
                            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                            .ok_or_else(|| format!("amount {v} is not a number of dollars"))?;
                        let item = r["line_item"].as_str().unwrap_or("(all)").to_string();
                        let model = item.split(", ").next().unwrap_or(&item).to_string();
                        let item = match r["project_id"].as_str() {
                            Some(p) => format!("{item} [{p}]"),
                            None => item,
                        };
                        (item, model, usd)
                    }
                };
                out.push((day.clone(), item, model, usd));
            }
        }
    }
    Ok(out)
}

/// What one vendor's sync did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VendorSync {
    pub vendor: &'static str,
    pub from: String,
    pub to: String,
    pub lines: usize,
    pub billed_usd: f64,
}

/// Fetches days `[from, to)` of `api`'s vendor and replaces what the store has for them.
pub async fn sync_days(
    api: &CostApi,
    store: &Store,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    now: i64,
) -> Result<VendorSync, BillingError> {
    let vendor = api.vendor;
    let pages = api.pages(from, to).await?;
    let lines = lines(vendor, &pages).map_err(|message| BillingError::Shape {
        vendor: vendor.name(),
        url: api.base.clone(),
        message,
    })?;
    // Two lines of one day and item (two projects' unnamed items, say) add up.
    let mut merged: BTreeMap<(String, String), (String, f64)> = BTreeMap::new();
    for (day, item, model, usd) in lines {
        let e = merged.entry((day, item)).or_insert((model, 0.0));
        e.1 += usd;
    }
    let billed: f64 = merged.values().map(|(_, usd)| usd).sum();
    let rows: Vec<BilledLine<'_>> = merged
        .iter()
        .map(|((day, item), (model, usd))| BilledLine {
            day,
            item,
            model,
            usd: *usd,
        })
        .collect();
    store
        .replace_billed_costs(
            vendor.name(),
            &from.to_string(),
            &to.to_string(),
            &rows,
            now,
        )
        .await?;
    store
        .set_cursor(
            "billing",
            vendor.name(),
            &(to - chrono::Duration::days(1)).to_string(),
            now,
        )
        .await?;
    Ok(VendorSync {
        vendor: vendor.name(),
        from: from.to_string(),
        to: to.to_string(),
        lines: merged.len(),
        billed_usd: billed,
    })
}

/// Fetches what is new since the last sync of this vendor (from two days before it, as costs
/// land late; the first time, the last 30 days) up to today.
pub async fn sync(api: &CostApi, store: &Store, now: i64) -> Result<VendorSync, BillingError> {
    let today = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .date_naive();
    let from = match store.cursor("billing", api.vendor.name()).await? {
        Some(last) => chrono::NaiveDate::parse_from_str(&last, "%Y-%m-%d")
            .map(|d| d - chrono::Duration::days(2))
            .unwrap_or(today - chrono::Duration::days(FIRST_DAYS)),
        None => today - chrono::Duration::days(FIRST_DAYS),
    };
    sync_days(api, store, from, today + chrono::Duration::days(1), now).await
}

/// Billed against log-derived cost for one day and vendor.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ReconRow {
    pub day: String,
    pub vendor: String,
    pub logs_usd: f64,
    pub billed_usd: f64,
    /// billed − logs: work billed but not seen in watched logs (other machines, the console,
    /// other tools), or prices that drifted.
    pub gap_usd: f64,
}

/// Per day and vendor, over the vendors that have billing data, the inclusive days given.
pub async fn reconcile(
    store: &Store,
    since: &str,
    until: &str,
) -> crate::model::error::Result<Vec<ReconRow>> {
    let mut rows: BTreeMap<(String, String), ReconRow> = BTreeMap::new();
    let billed = store.billed_by_day(since, until).await?;
    let vendors: std::collections::BTreeSet<&str> = billed
        .iter()
        .map(|(_, vendor, _)| vendor.as_str())
        .collect();
    let empty = |day: &str, vendor: &str| ReconRow {
        day: day.into(),
        vendor: vendor.into(),
        logs_usd: 0.0,
        billed_usd: 0.0,
        gap_usd: 0.0,
    };
    for (day, vendor, usd) in &billed {
        let e = rows
            .entry((day.clone(), vendor.clone()))
            .or_insert_with(|| empty(day, vendor));
        e.billed_usd += usd;
    }
    for (day, vendor, usd) in store.log_spend_by_day(since, until).await? {
        if !vendors.contains(vendor.as_str()) {
            continue;
        }
        let e = rows
            .entry((day.clone(), vendor.clone()))
            .or_insert_with(|| empty(&day, &vendor));
        e.logs_usd += usd;
    }
    Ok(rows
        .into_values()
        .map(|mut r| {
            r.gap_usd = r.billed_usd - r.logs_usd;
            r
        })
        .collect())
}

/// A client per vendor that has an admin key here.
pub fn configured(anthropic_api_url: &str, openai_api_url: &str) -> Vec<CostApi> {
    [
        (Vendor::Anthropic, anthropic_api_url),
        (Vendor::OpenAi, openai_api_url),
    ]
    .into_iter()
    .filter_map(|(v, url)| match CostApi::new(v, url, v.key()?) {
        Ok(api) => Some(api),
        Err(e) => {
            tracing::warn!("{e}; its cost reports are not fetched");
            None
        }
    })
    .collect()
}

/// Syncs every configured vendor every `every` (hourly is plenty: the reports are daily).
pub fn spawn_periodic(
    store: Store,
    bus: crate::model::events::EventBus,
    apis: Vec<CostApi>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if apis.is_empty() {
            return;
        }
        loop {
            let now = chrono::Utc::now().timestamp();
            for api in &apis {
                match sync(api, &store, now).await {
                    Ok(s) => tracing::info!("billing {}: {} lines", s.vendor, s.lines),
                    Err(e) => tracing::warn!("billing: {e}"),
                }
            }
            bus.publish(crate::model::events::Event::Changed {
                source: "billing".into(),
                topics: vec!["spend".into()],
            });
            tokio::time::sleep(every).await;
        }
    })
}
