//! Vendor concentration: how much of the spend and of the merged agent work rests on each
//! vendor and model, the Herfindahl-Hirschman index (HHI, the sum of squared percentage shares:
//! 10,000 when one vendor has everything), a configurable threshold that raises an inbox
//! warning, and "what if vendor X is down": the repos and agents that depend on it alone.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use ts_rs::TS;

use crate::error::Result;
use crate::model::{Author, ChangeKind};
use crate::pricing::{vendor_of, PriceTable};
use crate::store::Store;

/// HHI above which the inbox warns, unless `[spend] concentration_threshold` says otherwise:
/// 5,000 is one vendor at about 70 % (competition authorities call 2,500 "highly
/// concentrated"; with two or three AI vendors most teams are above that).
pub const DEFAULT_THRESHOLD: f64 = 5_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Share {
    pub key: String,
    pub value: f64,
    /// 0..1.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Concentration {
    /// Spend per vendor and per model since `since`.
    pub spend_by_vendor: Vec<Share>,
    pub spend_by_model: Vec<Share>,
    /// Merged agent changes per vendor (the vendor of the runs on the change's branch).
    pub merged_by_vendor: Vec<Share>,
    pub hhi_spend: f64,
    pub hhi_merged: f64,
    pub threshold: f64,
    /// Either index above the threshold.
    pub over: bool,
    /// `YYYY-MM-DD`: the first day counted.
    pub since: String,
}

/// What stops if one vendor is down.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Dependence {
    pub vendor: String,
    /// Repos whose agent runs (since `since`) all used this vendor.
    pub repos_only: Vec<String>,
    /// Repos that use it beside others, with its share of their runs.
    pub repos_partly: Vec<Share>,
    /// Agents that run on this vendor only.
    pub agents_only: Vec<String>,
}

/// The HHI of values: Σ (100 · value / total)². 0 when there is nothing.
pub fn hhi(values: &[f64]) -> f64 {
    let total: f64 = values.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    values.iter().map(|v| (100.0 * v / total).powi(2)).sum()
}

fn shares(map: BTreeMap<String, f64>) -> Vec<Share> {
    let total: f64 = map.values().sum();
    let mut v: Vec<Share> = map
        .into_iter()
        .map(|(key, value)| Share {
            share: if total > 0.0 { value / total } else { 0.0 },
            key,
            value,
        })
        .collect();
    v.sort_by(|a, b| b.value.total_cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
    v
}

/// The vendor behind an agent run: its model's, else the agent's maker.
fn run_vendor(table: &PriceTable, agent: &str, model: &str) -> String {
    let v = vendor_of(table, model);
    if v != "unknown" {
        return v;
    }
    match agent {
        "claude-code" | "claude" => "anthropic".into(),
        "codex" => "openai".into(),
        "gemini" | "gemini-cli" => "google".into(),
        _ => "unknown".into(),
    }
}

pub async fn concentration(store: &Store, since: &str, threshold: f64) -> Result<Concentration> {
    let table = PriceTable::builtin();
    let mut vendor = BTreeMap::new();
    let mut model = BTreeMap::new();
    for r in store
        .spend_records()
        .await?
        .iter()
        .filter(|r| r.day.as_str() >= since)
    {
        *vendor.entry(r.vendor.clone()).or_insert(0.0) += r.cost_usd;
        *model.entry(r.model.clone()).or_insert(0.0) += r.cost_usd;
    }
    // Merged agent changes, each credited to the vendors of the runs on its branch (split
    // evenly when several), else to its agent's maker.
    let runs = store.agent_runs().await?;
    let mut merged: BTreeMap<String, f64> = BTreeMap::new();
    let since_ts = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp());
    for c in store.change_requests().await? {
        let Author::Agent { agent } = &c.author else {
            continue;
        };
        if c.state != "merged" || c.updated_at < since_ts {
            continue;
        }
        let repo = (c.kind == ChangeKind::Local).then_some(c.repo.as_str());
        let vendors: BTreeSet<String> = runs
            .iter()
            .filter(|r| r.branch.as_deref() == Some(c.head.as_str()))
            .filter(|r| repo.is_none_or(|p| r.repo.as_deref() == Some(p)))
            .map(|r| run_vendor(&table, &r.agent, &r.model))
            .collect();
        let vendors = if vendors.is_empty() {
            BTreeSet::from([run_vendor(&table, agent, "")])
        } else {
            vendors
        };
        let each = 1.0 / vendors.len() as f64;
        for v in vendors {
            *merged.entry(v).or_insert(0.0) += each;
        }
    }
    let hhi_spend = hhi(&vendor.values().copied().collect::<Vec<_>>());
    let hhi_merged = hhi(&merged.values().copied().collect::<Vec<_>>());
    Ok(Concentration {
        spend_by_vendor: shares(vendor),
        spend_by_model: shares(model),
        merged_by_vendor: shares(merged),
        over: hhi_spend > threshold || hhi_merged > threshold,
        hhi_spend,
        hhi_merged,
        threshold,
        since: since.to_string(),
    })
}

/// The repos and agents that stop when `vendor` is down (agent runs started since `since_ts`).
pub async fn if_down(store: &Store, vendor: &str, since_ts: i64) -> Result<Dependence> {
    let table = PriceTable::builtin();
    let mut by_repo: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_agent: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in store
        .agent_runs()
        .await?
        .iter()
        .filter(|r| r.started_at >= since_ts)
    {
        let on = (run_vendor(&table, &r.agent, &r.model) == vendor) as usize;
        if let Some(repo) = &r.repo {
            let e = by_repo.entry(repo.clone()).or_default();
            e.0 += on;
            e.1 += 1;
        }
        let e = by_agent.entry(r.agent.clone()).or_default();
        e.0 += on;
        e.1 += 1;
    }
    let mut d = Dependence {
        vendor: vendor.to_string(),
        repos_only: vec![],
        repos_partly: vec![],
        agents_only: by_agent
            .into_iter()
            .filter(|(_, (on, all))| on == all)
            .map(|(a, _)| a)
            .collect(),
    };
    for (repo, (on, all)) in by_repo {
        if on == all {
            d.repos_only.push(repo);
        } else if on > 0 {
            d.repos_partly.push(Share {
                key: repo,
                value: on as f64,
                share: on as f64 / all as f64,
            });
        }
    }
    Ok(d)
}
