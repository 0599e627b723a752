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
