//! Vendor concentration: how much of the spend and of the merged agent work rests on each
//! vendor and model, the Herfindahl-Hirschman index (HHI, the sum of squared percentage shares:
//! 10,000 when one vendor has everything), a configurable threshold that raises an inbox
//! warning, and "what if vendor X is down": the repos and agents that depend on it alone.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use ts_rs::TS;

use crate::model::error::Result;
use crate::model::pricing::{vendor_of, PriceTable};
use crate::model::toml_file::ConfigError;
use crate::store::{SpendBy, Store};

/// HHI above which the inbox warns, unless `[spend] concentration_threshold` says otherwise:
/// 5,000 is one vendor at about 70 % (competition authorities call 2,500 "highly
/// concentrated"; with two or three AI vendors most teams are above that).
pub const DEFAULT_THRESHOLD: f64 = 5_000.0;

/// `[spend]` in the config file (what concentration reads from it).
#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HHI (0–10,000) of vendor shares above which the inbox warns.
    pub concentration_threshold: Option<f64>,
}

impl Config {
    /// The threshold: the file's (an HHI, 0 to 10,000), else `DEFAULT_THRESHOLD`. `file` is the
    /// config file, for the error.
    pub fn threshold(&self, file: &std::path::Path) -> std::result::Result<f64, ConfigError> {
        match self.concentration_threshold {
            None => Ok(DEFAULT_THRESHOLD),
            Some(t) if (0.0..=10_000.0).contains(&t) => Ok(t),
            Some(t) => Err(ConfigError::Invalid {
                path: file.to_path_buf(),
                key: "spend.concentration_threshold".into(),
                message: format!("{t} is not an HHI (0 to 10000)"),
            }),
        }
    }
}

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
    // Sums from the per-day rollup, not its rows: the answer costs the same for any history.
    let sums = |by| async move {
        let rows = store.spend_sums(by, since, "9999-99-99").await?;
        Ok::<_, crate::Error>(
            rows.into_iter()
                .map(|(key, _, cost, _)| (key, cost))
                .collect::<BTreeMap<String, f64>>(),
        )
    };
    let vendor = sums(SpendBy::Vendor).await?;
    let model = sums(SpendBy::Model).await?;
    // Merged agent changes, each credited to the vendors of the runs on its branch (split
    // evenly when several), else to its agent's maker.
    let since_ts = crate::model::days::start_of(since).unwrap_or(0);
    let mut per_change: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in store.merged_agent_changes(since_ts).await? {
        let vendor = match &m.run {
            Some((agent, model)) => run_vendor(&table, agent, model),
            None => run_vendor(&table, &m.author, ""),
        };
        per_change.entry(m.id).or_default().insert(vendor);
    }
    let mut merged: BTreeMap<String, f64> = BTreeMap::new();
    for vendors in per_change.values() {
        let each = 1.0 / vendors.len() as f64;
        for v in vendors {
            *merged.entry(v.clone()).or_insert(0.0) += each;
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

/// What stops for each vendor seen in agent runs started since `since_ts`, in name order.
pub async fn if_down_all(store: &Store, since_ts: i64) -> Result<Vec<Dependence>> {
    let table = PriceTable::builtin();
    let runs: Vec<(String, String, String, usize)> = store
        .run_counts_since(since_ts)
        .await?
        .into_iter()
        .map(|(repo, agent, model, n)| {
            let vendor = run_vendor(&table, &agent, &model);
            (repo, agent, vendor, n.max(0) as usize)
        })
        .collect();
    let vendors: BTreeSet<&str> = runs.iter().map(|r| r.2.as_str()).collect();
    Ok(vendors.into_iter().map(|v| dependence(v, &runs)).collect())
}

/// One vendor's dependence from (repo, agent, vendor, runs) counts.
fn dependence(vendor: &str, runs: &[(String, String, String, usize)]) -> Dependence {
    let mut by_repo: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut by_agent: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (repo, agent, v, n) in runs {
        let on = if v == vendor { *n } else { 0 };
        if !repo.is_empty() {
            let e = by_repo.entry(repo).or_default();
            e.0 += on;
            e.1 += n;
        }
        let e = by_agent.entry(agent).or_default();
        e.0 += on;
        e.1 += n;
    }
    let mut d = Dependence {
        vendor: vendor.to_string(),
        repos_only: vec![],
        repos_partly: vec![],
        agents_only: by_agent
            .into_iter()
            .filter(|(_, (on, all))| on == all)
            .map(|(a, _)| a.to_string())
            .collect(),
    };
    for (repo, (on, all)) in by_repo {
        if on == all {
            d.repos_only.push(repo.to_string());
        } else if on > 0 {
            d.repos_partly.push(Share {
                key: repo.to_string(),
                value: on as f64,
                share: on as f64 / all as f64,
            });
        }
    }
    d
}

/// The repos and agents that stop when `vendor` is down (agent runs started since `since_ts`).
pub async fn if_down(store: &Store, vendor: &str, since_ts: i64) -> Result<Dependence> {
    Ok(if_down_all(store, since_ts)
        .await?
        .into_iter()
        .find(|d| d.vendor == vendor)
        .unwrap_or_else(|| dependence(vendor, &[])))
}
