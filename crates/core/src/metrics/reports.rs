//! Reports for the command line and scripts: usage (tokens by kind and cost) grouped by day,
//! month, model, agent, session or repo; commits grouped by agent, author or month. Pure reads.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::error::Result;
use crate::model::Tokens;
use crate::store::Store;
pub use crate::store::{SpendBy, UnpricedModel, UsageBy};

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
    let rows = store
        .usage_sums(
            by,
            since.unwrap_or("0000-00-00"),
            until.unwrap_or("9999-99-99"),
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut total = UsageRow {
        key: "total".into(),
        tokens: Tokens::default(),
        total_tokens: 0,
        cost_usd: 0.0,
    };
    for (key, tokens, cost_usd) in rows {
        let row = UsageRow {
            key,
            total_tokens: tokens.total(),
            tokens,
            cost_usd,
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
    /// Commits whose diffstat is unknown (not in the sums above): a partial or shallow clone.
    pub diffstat_unknown: i64,
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
            diffstat_unknown: 0,
            agent_share: 0.0,
        });
        g.commits += 1;
        g.agent_commits += c.agent.is_some() as i64;
        match (c.insertions, c.deletions) {
            (Some(i), Some(d)) => {
                g.insertions += i;
                g.deletions += d;
            }
            _ => g.diffstat_unknown += 1,
        }
    }
    Ok(groups
        .into_values()
        .map(|mut g| {
            g.agent_share = g.agent_commits as f64 / g.commits.max(1) as f64;
            g
        })
        .collect())
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
    let unpriced_models = store.unpriced_model_names(since, until).await?;
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
    let (since, until) = (since.unwrap_or("0000-00-00"), until.unwrap_or("9999-99-99"));
    let rows = store.spend_sums(by, since, until).await?;
    let mut groups: BTreeMap<String, SpendRow> = BTreeMap::new();
    let empty = |key: String| SpendRow {
        key,
        cost_usd: 0.0,
        unpriced_tokens: 0,
        tokens: Tokens::default(),
        share: 0.0,
    };
    let mut total = empty("total".into());
    for (mut k, tokens, cost, unpriced) in rows {
        // Weeks are made from days here (SQLite and PostgreSQL name weeks differently).
        if by == SpendBy::Week {
            k = crate::model::days::week_of_day(&k);
        }
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

pub async fn unpriced_models(store: &Store) -> Result<Vec<UnpricedModel>> {
    store.unpriced_models().await
}

/// Cost per ISO week (named by its Monday) and vendor, oldest week first; every vendor has a
/// value in every week (0 where it had none), as a stacked chart needs.
pub async fn spend_by_week_and_vendor(store: &Store) -> Result<Vec<(String, Vec<(String, f64)>)>> {
    let rows = store
        .spend_by_day_and_vendor("0000-00-00", "9999-99-99")
        .await?;
    let mut weeks: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut vendors = std::collections::BTreeSet::new();
    for (day, vendor, cost) in rows {
        let week = crate::model::days::week_of_day(&day);
        *weeks
            .entry(week)
            .or_default()
            .entry(vendor.clone())
            .or_insert(0.0) += cost;
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
