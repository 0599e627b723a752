//! The DORA four keys from recorded deploys and their exact contents, split agent vs human.
//!
//! Definitions (ours; where DORA's and DevLake's differ, it is said):
//! - **Deployment frequency**: successful deploys to the production environment in the range,
//!   per week (count ÷ weeks in the range), and the number of UTC days with at least one.
//!   DORA reports a bucket (on demand, daily, weekly, …); DevLake the median number of deploy
//!   days per week. Both can be read off these two numbers.
//! - **Lead time for changes**: per commit shipped to production, from its commit time to the
//!   first successful production deploy whose exact contents hold it (median and 90th
//!   percentile). That is DORA's "commit to running in production". DevLake measures from a
//!   pull request's first commit to its deploy instead; we count every commit, so a long
//!   branch weighs by its commits.
//! - **Change failure rate**: failed production deploys ÷ production deploys that finished
//!   (success or failure). A deploy failed when its status says so, or when the next production
//!   deploy within the incident window ships a revert (`Revert "…"`) or a hotfix (a summary
//!   starting with `hotfix`) — then the earlier deploy caused an incident and the later one
//!   restored it. DORA asks "what share of deploys caused a failure in production"; DevLake
//!   links deploys to incident issues instead.
//! - **Time to restore**: for each failed deploy, from it to the next successful production
//!   deploy that did not fail itself (median). DevLake uses incident issue open → close.
//! - **Agent share**: commits shipped to production written by agents ÷ all shipped.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use ts_rs::TS;

use crate::model::{Commit, Deployment};
use crate::store::Store;

/// What counts as production and as an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct DoraConfig {
    pub production: String,
    pub incident_window_secs: i64,
}

impl Default for DoraConfig {
    fn default() -> Self {
        DoraConfig {
            production: "production".into(),
            incident_window_secs: 24 * 3_600,
        }
    }
}

/// A duration's spread over a set of cases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Spread {
    #[ts(type = "number")]
    pub count: i64,
    /// Seconds; none without cases.
    #[ts(type = "number | null")]
    pub median_secs: Option<i64>,
    #[ts(type = "number | null")]
    pub p90_secs: Option<i64>,
}

impl Spread {
    pub fn of(mut v: Vec<i64>) -> Self {
        v.sort_unstable();
        Spread {
            count: v.len() as i64,
            median_secs: percentile(&v, 50),
            p90_secs: percentile(&v, 90),
        }
    }
}

/// Nearest-rank percentile (the smallest value with at least `p` % of cases at or below it).
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Dora {
    pub production: String,
    #[ts(type = "number")]
    pub since: i64,
    #[ts(type = "number")]
    pub until: i64,
    /// Successful production deploys in the range.
    #[ts(type = "number")]
    pub deploys: i64,
    pub deploys_per_week: f64,
    #[ts(type = "number")]
    pub deploy_days: i64,
    pub lead_time: Spread,
    pub lead_time_agent: Spread,
    pub lead_time_human: Spread,
    /// Failed ÷ finished production deploys; none without any.
    pub change_failure_rate: Option<f64>,
    #[ts(type = "number")]
    pub failed_deploys: i64,
    /// Of those, failures found by a revert or hotfix that followed (status said success).
    #[ts(type = "number")]
    pub incidents: i64,
    pub time_to_restore: Spread,
    /// Commits shipped to production that agents wrote ÷ all shipped; none without any.
    pub agent_share: Option<f64>,
    #[ts(type = "number")]
    pub commits_shipped: i64,
}

/// The four keys for the production deploys in `[since, until)`, of `repo` (all when `None`).
pub async fn dora(
    store: &Store,
    repo: Option<&str>,
    since: i64,
    until: i64,
    cfg: &DoraConfig,
) -> Result<Dora, crate::Error> {
    let deploys: Vec<Deployment> = store
        .deployments()
        .await?
        .into_iter()
        .filter(|d| d.environment == cfg.production && repo.is_none_or(|r| d.repo == r))
        .collect();
    let shipped = store.deploy_commits(repo).await?;
    let commits = store.commits_between(i64::MIN, i64::MAX).await?;
    Ok(compute(&deploys, &shipped, &commits, since, until, cfg))
}

/// The four keys from plain data: production deploys (any order), what each shipped, and the
/// commits (for their times, authors and summaries).
pub fn compute(
    deploys: &[Deployment],
    shipped: &[(String, String)],
    commits: &[Commit],
    since: i64,
    until: i64,
    cfg: &DoraConfig,
) -> Dora {
    let mut prod: Vec<&Deployment> = deploys
        .iter()
        .filter(|d| d.environment == cfg.production)
        .filter(|d| matches!(d.status.as_str(), "success" | "failure"))
        .collect();
    prod.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let by_sha: HashMap<(&str, &str), &Commit> = commits
        .iter()
        .map(|c| ((c.repo.as_str(), c.sha.as_str()), c))
        .collect();
    let mut contents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (dep, sha) in shipped {
        contents.entry(dep.as_str()).or_default().push(sha.as_str());
    }
    let commits_of = |d: &Deployment| -> Vec<&Commit> {
        contents
            .get(d.id.as_str())
            .map(|shas| {
                shas.iter()
                    .filter_map(|s| by_sha.get(&(d.repo.as_str(), *s)).copied())
                    .collect()
            })
            .unwrap_or_default()
    };
    let fixes = |d: &Deployment| {
        commits_of(d).iter().any(|c| {
            let s = c.summary.trim_start().to_ascii_lowercase();
            s.starts_with("revert \"") || s.starts_with("hotfix")
        })
    };
    // Failed: by status, or by a revert/hotfix shipped soon after (per repo).
    let mut failed: HashSet<&str> = HashSet::new();
    for (i, d) in prod.iter().enumerate() {
        if d.status == "failure" {
            failed.insert(&d.id);
            continue;
        }
        let next = prod[i + 1..].iter().find(|n| n.repo == d.repo);
        if let Some(n) = next {
            if n.created_at - d.created_at <= cfg.incident_window_secs && fixes(n) {
                failed.insert(&d.id);
            }
        }
    }
    let in_range = |d: &&&Deployment| d.created_at >= since && d.created_at < until;
    let finished: Vec<&&Deployment> = prod.iter().filter(in_range).collect();
    let good: Vec<&&Deployment> = finished
        .iter()
        .copied()
        .filter(|d| d.status == "success")
        .collect();
    let failed_in_range = finished
        .iter()
        .filter(|d| failed.contains(d.id.as_str()))
        .count() as i64;
    let incidents_in_range = finished
        .iter()
        .filter(|d| d.status == "success" && failed.contains(d.id.as_str()))
        .count() as i64;
    // Lead time: each commit at the first successful deploy that shipped it.
    let (mut all, mut agent, mut human) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut by_agents = 0i64;
    for d in prod.iter().filter(|d| d.status == "success") {
        for c in commits_of(d) {
            if !seen.insert((c.repo.as_str(), c.sha.as_str())) {
                continue;
            }
            if d.created_at < since || d.created_at >= until {
                continue;
            }
            let lead = d.created_at - c.committed_at;
            all.push(lead);
            if c.agent.is_some() {
                agent.push(lead);
                by_agents += 1;
            } else {
                human.push(lead);
            }
        }
    }
    // Time to restore: a failed deploy to the next successful one (same repo) that held.
    let mut restore = Vec::new();
    for (i, d) in prod.iter().enumerate() {
        if !failed.contains(d.id.as_str()) || d.created_at < since || d.created_at >= until {
            continue;
        }
        if let Some(ok) = prod[i + 1..]
            .iter()
            .find(|n| n.repo == d.repo && n.status == "success" && !failed.contains(n.id.as_str()))
        {
            restore.push(ok.created_at - d.created_at);
        }
    }
    let days: HashSet<String> = good.iter().map(|d| crate::days::of(d.created_at)).collect();
    let weeks = ((until - since).max(1) as f64) / (7.0 * 86_400.0);
    let shipped_count = all.len() as i64;
    Dora {
        production: cfg.production.clone(),
        since,
        until,
        deploys: good.len() as i64,
        deploys_per_week: good.len() as f64 / weeks,
        deploy_days: days.len() as i64,
        lead_time: Spread::of(all),
        lead_time_agent: Spread::of(agent),
        lead_time_human: Spread::of(human),
        change_failure_rate: (!finished.is_empty())
            .then(|| failed_in_range as f64 / finished.len() as f64),
        failed_deploys: failed_in_range,
        incidents: incidents_in_range,
        time_to_restore: Spread::of(restore),
        agent_share: (shipped_count > 0).then(|| by_agents as f64 / shipped_count as f64),
        commits_shipped: shipped_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(Spread::of(vec![30, 10, 20]).median_secs, Some(20));
    }
}
