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
//!   restored it. A deploy also failed when an **incident** (a forge issue labelled
//!   `incident` or a configured incident label, or one a pager recorded; `core::incidents`)
//!   opened after it and before the next successful production deploy of its repo: DevLake's
//!   rule, which pins each incident on the deploy last before it, however long before. DORA
//!   asks "what share of deploys caused a failure in production"; a deploy counts once however
//!   many ways it is found failed.
//! - **Time to restore**: per failed deploy, the open → close of its first incident when it
//!   has one (DevLake's definition; an open incident is not restored yet and is left out);
//!   otherwise from the deploy to the next successful production deploy that did not fail
//!   itself. Median and 90th percentile.
//! - **Agent share**: commits shipped to production written by agents ÷ all shipped.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use ts_rs::TS;

pub use crate::store::spans::Spread;
use crate::store::spans::{self, Range};
use crate::store::{DeployTallies, DeployWindow, Store};

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
    /// Incidents (labelled issues, or recorded by a pager or a person) pinned on production
    /// deploys in the range.
    #[ts(type = "number")]
    pub incident_issues: i64,
    pub time_to_restore: Spread,
    /// Commits shipped to production that agents wrote ÷ all shipped; none without any.
    pub agent_share: Option<f64>,
    #[ts(type = "number")]
    pub commits_shipped: i64,
}

/// The four keys for the production deploys in `[since, until)`, of `repo` (all when `None`).
/// Reads aggregates only (see `store::spans` and `deploys::measure`): its cost does not grow
/// with the number of commits.
pub async fn dora(
    store: &Store,
    repo: Option<&str>,
    since: i64,
    until: i64,
    cfg: &DoraConfig,
) -> Result<Dora, crate::Error> {
    let w = DeployWindow {
        production: &cfg.production,
        since,
        until,
        incident_window_secs: cfg.incident_window_secs,
        repo,
    };
    let DeployTallies {
        finished,
        good,
        failed: failed_count,
        incidents,
        deploy_days,
    } = store.deploy_tallies(&w).await?;
    // Failed deploy → seconds to restore (none while not restored).
    let mut restore: HashMap<String, Option<i64>> = store
        .failed_deploys(&w)
        .await?
        .into_iter()
        .map(|(id, at, back)| (id, back.map(|b| b - at)))
        .collect();

    // Incident issues, each pinned on the last good production deploy before it opened. Few
    // (people file them), so one indexed lookup each.
    let mut failed_count = failed_count;
    let mut incident_issues = 0;
    let mut timed_by_issue = HashSet::new();
    for incident in store.incidents(repo, since).await? {
        // At or before the second it opened: before (the next second, the smallest id).
        let before = Some((incident.opened_at + 1, ""));
        let Some(pinned) = store
            .last_success(&incident.repo, &cfg.production, before)
            .await?
        else {
            continue;
        };
        let (deploy, at) = (pinned.id, pinned.created_at);
        if !(since..until).contains(&at) {
            continue;
        }
        incident_issues += 1;
        if !restore.contains_key(&deploy) {
            failed_count += 1;
        }
        // The deploy's first incident (oldest first) times its restore.
        if timed_by_issue.insert(deploy.clone()) {
            restore.insert(
                deploy,
                incident.closed_at.map(|c| (c - incident.opened_at).max(0)),
            );
        }
    }

    let range = Range {
        metric: "lead",
        scope: &cfg.production,
        repo,
        since,
        until,
    };
    let (lead_time, lead_time_agent, lead_time_human) = spans::split(store, range).await?;
    let weeks = ((until - since).max(1) as f64) / (7.0 * 86_400.0);
    let shipped = lead_time.count;
    Ok(Dora {
        production: cfg.production.clone(),
        since,
        until,
        deploys: good,
        deploys_per_week: good as f64 / weeks,
        deploy_days,
        agent_share: (shipped > 0).then(|| lead_time_agent.count as f64 / shipped as f64),
        lead_time,
        lead_time_agent,
        lead_time_human,
        change_failure_rate: (finished > 0).then(|| failed_count as f64 / finished as f64),
        failed_deploys: failed_count,
        incidents,
        incident_issues,
        time_to_restore: Spread::of(restore.into_values().flatten().collect()),
        commits_shipped: shipped,
    })
}

/// One range of lead times and how many shipped commits fell in it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct LeadTimeBin {
    /// `< 1 h`, `1–4 h`, `4–24 h`, `1–3 d`, `3–7 d` or `≥ 7 d`.
    pub label: String,
    #[ts(type = "number")]
    pub agent: i64,
    #[ts(type = "number")]
    pub human: i64,
}

/// Upper ends (exclusive) of the lead-time bins, in seconds; the last bin is open.
const BINS: [(i64, &str); 6] = [
    (3_600, "< 1 h"),
    (4 * 3_600, "1–4 h"),
    (86_400, "4–24 h"),
    (3 * 86_400, "1–3 d"),
    (7 * 86_400, "3–7 d"),
    (i64::MAX, "≥ 7 d"),
];

/// How the lead times of the commits shipped to `production` in `[since, until)` spread over
/// fixed ranges, agents and people apart: exact counts from the measured spans.
pub async fn lead_time_distribution(
    store: &Store,
    repo: Option<&str>,
    since: i64,
    until: i64,
    production: &str,
) -> Result<Vec<LeadTimeBin>, crate::Error> {
    let mut out: Vec<LeadTimeBin> = BINS
        .iter()
        .map(|(_, label)| LeadTimeBin {
            label: (*label).into(),
            agent: 0,
            human: 0,
        })
        .collect();
    let ends: Vec<i64> = BINS.iter().map(|(end, _)| *end).collect();
    let range = Range {
        metric: "lead",
        scope: production,
        repo,
        since,
        until,
    };
    for (agent, bin, n) in spans::bins(store, &range, &ends).await? {
        if let Some(b) = out.get_mut(bin) {
            if agent {
                b.agent += n;
            } else {
                b.human += n;
            }
        }
    }
    Ok(out)
}
