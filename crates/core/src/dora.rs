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
use sqlx::Row;
use ts_rs::TS;

pub use crate::spans::Spread;
use crate::spans::{self, Range};
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

/// Query `q` with the parameters both DORA queries take: $1 production, $2 since, $3 until,
/// $4 the incident window, $5 the repo when one is asked for.
fn over_range<'q>(
    q: &'q str,
    cfg: &'q DoraConfig,
    since: i64,
    until: i64,
    repo: Option<&'q str>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let query = sqlx::query(q)
        .bind(cfg.production.as_str())
        .bind(since)
        .bind(until)
        .bind(cfg.incident_window_secs);
    match repo {
        Some(r) => query.bind(r),
        None => query,
    }
}

/// The four keys for the production deploys in `[since, until)`, of `repo` (all when `None`).
/// Reads aggregates only (see `core::spans` and `deploys::measure`): its cost does not grow
/// with the number of commits.
pub async fn dora(
    store: &Store,
    repo: Option<&str>,
    since: i64,
    until: i64,
    cfg: &DoraConfig,
) -> Result<Dora, crate::Error> {
    // A deploy failed by its status, or when the next one (within the window) ships a fix.
    let failed = "(status = 'failure' OR next_fix_secs <= $4)";
    let repo_clause = if repo.is_some() { " AND repo = $5" } else { "" };
    // PostgreSQL sums BIGINT as NUMERIC, which the Any driver cannot read: cast back.
    let q = format!(
        "SELECT count(*),
           CAST(COALESCE(sum(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0) AS BIGINT),
           CAST(COALESCE(sum(CASE WHEN {failed} THEN 1 ELSE 0 END), 0) AS BIGINT),
           CAST(COALESCE(sum(CASE WHEN status = 'success' AND next_fix_secs <= $4 THEN 1 ELSE 0 END), 0)
             AS BIGINT),
           count(DISTINCT CASE WHEN status = 'success' THEN created_at / 86400 END)
         FROM deployments
         WHERE environment = $1 AND status IN ('success', 'failure')
           AND created_at >= $2 AND created_at < $3{repo_clause}"
    );
    let row = over_range(&q, cfg, since, until, repo)
        .fetch_one(store.pool())
        .await?;
    let finished: i64 = row.try_get(0)?;
    let good: i64 = row.try_get(1)?;
    let failed_count: i64 = row.try_get(2)?;
    let incidents: i64 = row.try_get(3)?;
    let deploy_days: i64 = row.try_get(4)?;

    // Each failed deploy to the next successful one (same repo) that did not fail itself.
    let q = format!(
        "SELECT d.id, d.created_at,
           (SELECT n.created_at FROM deployments n
            WHERE n.repo = d.repo AND n.environment = d.environment AND n.status = 'success'
              AND (n.next_fix_secs IS NULL OR n.next_fix_secs > $4)
              AND n.created_at >= d.created_at
              AND NOT (n.created_at = d.created_at AND n.id <= d.id)
            ORDER BY n.created_at, n.id LIMIT 1)
         FROM deployments d
         WHERE d.environment = $1 AND d.status IN ('success', 'failure')
           AND d.created_at >= $2 AND d.created_at < $3
           AND (d.status = 'failure' OR d.next_fix_secs <= $4){}",
        repo_clause.replace("repo", "d.repo")
    );
    // Failed deploy → seconds to restore (none while not restored).
    let mut restore: HashMap<String, Option<i64>> = HashMap::new();
    for row in over_range(&q, cfg, since, until, repo)
        .fetch_all(store.pool())
        .await?
    {
        let at: i64 = row.try_get(1)?;
        let back: Option<i64> = row.try_get(2)?;
        restore.insert(row.try_get(0)?, back.map(|b| b - at));
    }

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
    let mut case = String::from("CASE");
    for (i, (end, _)) in BINS.iter().enumerate().take(BINS.len() - 1) {
        case.push_str(&format!(" WHEN secs < {end} THEN {i}"));
    }
    case.push_str(&format!(" ELSE {} END", BINS.len() - 1));
    let q = format!(
        "SELECT agent, {case} AS bin, count(*) FROM spans
         WHERE metric = 'lead' AND scope = $1 AND at >= $2 AND at < $3{}
         GROUP BY agent, bin",
        if repo.is_some() { " AND repo = $4" } else { "" }
    );
    let mut query = sqlx::query(&q).bind(production).bind(since).bind(until);
    if let Some(r) = repo {
        query = query.bind(r);
    }
    let mut out: Vec<LeadTimeBin> = BINS
        .iter()
        .map(|(_, label)| LeadTimeBin {
            label: (*label).into(),
            agent: 0,
            human: 0,
        })
        .collect();
    for row in query.fetch_all(store.pool()).await? {
        let agent: i64 = row.try_get(0)?;
        let bin: i64 = row.try_get(1)?;
        let n: i64 = row.try_get(2)?;
        if let Some(b) = usize::try_from(bin).ok().and_then(|i| out.get_mut(i)) {
            if agent != 0 {
                b.agent += n;
            } else {
                b.human += n;
            }
        }
    }
    Ok(out)
}
