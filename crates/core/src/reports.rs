//! Reports for the command line and scripts: usage (tokens by kind and cost) grouped by day,
//! month, model, agent, session or repo; commits grouped by agent, author or month. Pure reads.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use crate::error::Result;
use crate::model::Tokens;
use crate::store::{tokens_of, Store, USAGE_SUMS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageBy {
    Day,
    Month,
    Model,
    Agent,
    Session,
    Repo,
}

impl UsageBy {
    fn column(self) -> &'static str {
        match self {
            UsageBy::Day => "u.day",
            UsageBy::Month => "SUBSTR(u.day, 1, 7)",
            UsageBy::Model => "u.model",
            UsageBy::Agent => "u.agent",
            UsageBy::Session => "u.agent || ':' || u.session_id",
            UsageBy::Repo => "u.repo",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRow {
    pub key: String,
    pub tokens: Tokens,
    pub total_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageReport {
    pub rows: Vec<UsageRow>,
    pub total: UsageRow,
}

/// Usage from agent logs, each billed record counted once. `since`/`until` are inclusive
/// `YYYY-MM-DD` days (UTC).
pub async fn usage(
    store: &Store,
    by: UsageBy,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<UsageReport> {
    // The grouping expression comes from the fixed enum above, never from input. Every
    // grouping but session is read from the per-day rollup the ingest keeps (spend records from
    // logs), so a report costs the same however many requests the logs hold.
    let key = by.column();
    let sql = if by == UsageBy::Session {
        format!(
            "SELECT {key} AS k, {USAGE_SUMS}
             FROM usage_entries u
             WHERE u.canonical = 1 AND u.day >= $1 AND u.day <= $2
             GROUP BY {key} ORDER BY {key}"
        )
    } else {
        format!(
            "SELECT {key} AS k, {USAGE_SUMS}
             FROM spend_records u
             WHERE u.source = 'logs' AND u.day >= $1 AND u.day <= $2
             GROUP BY {key} ORDER BY {key}"
        )
    };
    let rows = sqlx::query(&sql)
        .bind(since.unwrap_or("0000-00-00"))
        .bind(until.unwrap_or("9999-99-99"))
        .fetch_all(store.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut total = UsageRow {
        key: "total".into(),
        tokens: Tokens::default(),
        total_tokens: 0,
        cost_usd: 0.0,
    };
    for r in &rows {
        let tokens = tokens_of(r)?;
        let row = UsageRow {
            key: r.try_get("k")?,
            total_tokens: tokens.total(),
            tokens,
            cost_usd: r.try_get("cost")?,
        };
        total.tokens.add(&row.tokens);
        total.cost_usd += row.cost_usd;
        out.push(row);
    }
    total.total_tokens = total.tokens.total();
    Ok(UsageReport { rows: out, total })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitsBy {
    Agent,
    Author,
    Month,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommitRow {
    pub key: String,
    pub commits: i64,
    pub agent_commits: i64,
    pub insertions: i64,
    pub deletions: i64,
    /// Agent commits / commits.
    pub agent_share: f64,
}

pub async fn commits(store: &Store, by: CommitsBy, repo: Option<&str>) -> Result<Vec<CommitRow>> {
    let commits = store.commits_between(i64::MIN, i64::MAX).await?;
    let mut groups: BTreeMap<String, CommitRow> = BTreeMap::new();
    for c in commits.iter().filter(|c| repo.is_none_or(|r| c.repo == r)) {
        let key = match by {
            CommitsBy::Agent => c.agent.clone().unwrap_or_else(|| "human".into()),
            CommitsBy::Author => c.author_name.clone(),
            CommitsBy::Month => chrono::DateTime::from_timestamp(c.committed_at, 0)
                .map(|d| d.format("%Y-%m").to_string())
                .unwrap_or_default(),
        };
        let g = groups.entry(key.clone()).or_insert_with(|| CommitRow {
            key,
            commits: 0,
            agent_commits: 0,
            insertions: 0,
            deletions: 0,
            agent_share: 0.0,
        });
        g.commits += 1;
        g.agent_commits += c.agent.is_some() as i64;
        g.insertions += c.insertions;
        g.deletions += c.deletions;
    }
    Ok(groups
        .into_values()
        .map(|mut g| {
            g.agent_share = g.agent_commits as f64 / g.commits.max(1) as f64;
            g
        })
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendBy {
    Vendor,
    Model,
    Agent,
    Repo,
    /// Who launched the work (the user of the machine that read the logs).
    Person,
    Day,
    /// ISO weeks, named by their Monday.
    Week,
    Month,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    pub key: String,
    pub cost_usd: f64,
    /// Tokens of models without a price that day (not in `cost_usd`).
    pub unpriced_tokens: i64,
    pub tokens: Tokens,
    /// This row's part of the total cost (0 when the total is 0).
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendReport {
    pub rows: Vec<SpendRow>,
    pub total: SpendRow,
    /// Models used in the range that have no price: their usage is counted, not costed.
    pub unpriced_models: Vec<String>,
}

/// Spend from every source (agent logs priced by the table; billing sources as billed) from the
/// per-day rollup, grouped. `since`/`until` are inclusive `YYYY-MM-DD` days (UTC).
pub async fn spend(
    store: &Store,
    by: SpendBy,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<SpendReport> {
    let (rows, total) = spend_rows(store, by, since, until).await?;
    let (since, until) = (since.unwrap_or("0000-00-00"), until.unwrap_or("9999-99-99"));
    let unpriced_models = sqlx::query_scalar(
        "SELECT DISTINCT model FROM spend_records
         WHERE day >= $1 AND day <= $2 AND unpriced_tokens > 0 ORDER BY model",
    )
    .bind(since)
    .bind(until)
    .fetch_all(store.pool())
    .await?;
    Ok(SpendReport {
        rows,
        total,
        unpriced_models,
    })
}

/// `spend`'s rows and total, without the list of unpriced models.
pub async fn spend_rows(
    store: &Store,
    by: SpendBy,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<(Vec<SpendRow>, SpendRow)> {
    // Fixed expressions from the enum, never from input. Weeks are made from days below (SQLite
    // and PostgreSQL name weeks differently).
    let key = match by {
        SpendBy::Vendor => "u.vendor",
        SpendBy::Model => "u.model",
        SpendBy::Agent => "u.agent",
        SpendBy::Repo => "u.repo",
        SpendBy::Person => "u.person",
        SpendBy::Day | SpendBy::Week => "u.day",
        SpendBy::Month => "SUBSTR(u.day, 1, 7)",
    };
    let (since, until) = (since.unwrap_or("0000-00-00"), until.unwrap_or("9999-99-99"));
    let sql = format!(
        "SELECT {key} AS k, {USAGE_SUMS_SPEND}
         FROM spend_records u WHERE u.day >= $1 AND u.day <= $2
         GROUP BY {key} ORDER BY {key}"
    );
    let rows = sqlx::query(&sql)
        .bind(since)
        .bind(until)
        .fetch_all(store.pool())
        .await?;
    let mut groups: BTreeMap<String, SpendRow> = BTreeMap::new();
    let empty = |key: String| SpendRow {
        key,
        cost_usd: 0.0,
        unpriced_tokens: 0,
        tokens: Tokens::default(),
        share: 0.0,
    };
    let mut total = empty("total".into());
    for r in &rows {
        let mut k: String = r.try_get("k")?;
        if by == SpendBy::Week {
            k = crate::days::week_of_day(&k);
        }
        let tokens = tokens_of(r)?;
        let cost: f64 = r.try_get("cost")?;
        let unpriced: i64 = r.try_get("unpriced_tokens")?;
        let g = groups.entry(k.clone()).or_insert_with(|| empty(k));
        for x in [&mut *g, &mut total] {
            x.tokens.add(&tokens);
            x.cost_usd += cost;
            x.unpriced_tokens += unpriced;
        }
    }
    let rows: Vec<SpendRow> = groups
        .into_values()
        .map(|mut g| {
            g.share = if total.cost_usd > 0.0 {
                g.cost_usd / total.cost_usd
            } else {
                0.0
            };
            g
        })
        .collect();
    total.share = if total.cost_usd > 0.0 { 1.0 } else { 0.0 };
    Ok((rows, total))
}

/// The sums `spend` reads (the rollup's own column names).
const USAGE_SUMS_SPEND: &str = "CAST(SUM(u.input_tokens) AS BIGINT) AS input_tokens,
   CAST(SUM(u.output_tokens) AS BIGINT) AS output_tokens,
   CAST(SUM(u.cache_write_tokens) AS BIGINT) AS cache_write_tokens,
   CAST(SUM(u.cache_read_tokens) AS BIGINT) AS cache_read_tokens,
   CAST(SUM(u.reasoning_tokens) AS BIGINT) AS reasoning_tokens,
   CAST(SUM(u.cost_usd) AS DOUBLE PRECISION) AS cost,
   CAST(SUM(u.unpriced_tokens) AS BIGINT) AS unpriced_tokens";

/// A model seen in agent logs without a price: what `flightdeck prices check` lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnpricedModel {
    pub model: String,
    pub tokens: i64,
    pub requests: i64,
    pub first_day: String,
    pub last_day: String,
}

pub async fn unpriced_models(store: &Store) -> Result<Vec<UnpricedModel>> {
    let rows = sqlx::query(
        "SELECT model, CAST(SUM(input_tokens + output_tokens + cache_write_tokens
             + cache_read_tokens) AS BIGINT) AS tokens,
           CAST(COUNT(*) AS BIGINT) AS requests, MIN(day) AS first_day, MAX(day) AS last_day
         FROM usage_entries WHERE canonical = 1 AND priced = 0
         GROUP BY model ORDER BY model",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UnpricedModel {
                model: r.try_get("model")?,
                tokens: r.try_get("tokens")?,
                requests: r.try_get("requests")?,
                first_day: r.try_get("first_day")?,
                last_day: r.try_get("last_day")?,
            })
        })
        .collect()
}

/// Cost per ISO week (named by its Monday) and vendor, oldest week first; every vendor has a
/// value in every week (0 where it had none), as a stacked chart needs.
pub async fn spend_by_week_and_vendor(store: &Store) -> Result<Vec<(String, Vec<(String, f64)>)>> {
    let rows = sqlx::query(
        "SELECT day, vendor, CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS c FROM spend_records
         GROUP BY day, vendor",
    )
    .fetch_all(store.pool())
    .await?;
    let mut weeks: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut vendors = std::collections::BTreeSet::new();
    for r in &rows {
        let day: String = r.try_get("day")?;
        let vendor: String = r.try_get("vendor")?;
        let week = crate::days::week_of_day(&day);
        *weeks
            .entry(week)
            .or_default()
            .entry(vendor.clone())
            .or_insert(0.0) += r.try_get::<f64, _>("c")?;
        vendors.insert(vendor);
    }
    Ok(weeks
        .into_iter()
        .map(|(w, by)| {
            let all = vendors
                .iter()
                .map(|v| (v.clone(), by.get(v).copied().unwrap_or(0.0)))
                .collect();
            (w, all)
        })
        .collect())
}
