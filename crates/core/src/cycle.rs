//! Cycle time of merged changes, by phase, split agent vs human, and throughput per week.
//!
//! Phases (each a span in `core::spans`, counted at the merge time):
//! - **coding**: first commit (author time) → change opened. A local agent branch opens at its
//!   first commit, so its coding phase is zero; a pull request's first commit is read from the
//!   local clone when it has the branch.
//! - **pickup**: opened → first review.
//! - **review**: first review → merged. Reviews given after the merge do not count; a change
//!   merged without review has neither pickup nor review.
//! - **deploy**: merged → the first successful deploy to the environment whose exact contents
//!   hold the change's head or the commit its merge put on the base (GitHub's
//!   `merge_commit_sha`, or the commit a merge made here left): a squash merge ships that
//!   commit, not the head.
//! - **merge** (time to merge): opened → merged.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sqlx::Row;
use ts_rs::TS;

use crate::spans::{self, Range, Span, Spread};
use crate::store::Store;

pub const PHASES: [&str; 5] = ["coding", "pickup", "review", "deploy", "merge"];

/// Measures the merged changes of `repo` into spans (only what changed is written).
pub async fn measure(store: &Store, repo: &str) -> Result<(), crate::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.author_kind, c.created_at, c.first_commit_at, c.merged_at, c.head_sha,
           c.merge_sha,
           (SELECT min(r.at) FROM reviews r WHERE r.change_request = c.id) AS reviewed
         FROM change_requests c WHERE c.repo = $1 AND c.merged_at IS NOT NULL",
    )
    .bind(repo)
    .fetch_all(store.pool())
    .await?;
    // First successful deploy per environment of each merged head and merge commit.
    let shipped = sqlx::query(
        "SELECT dc.sha, d.environment, min(d.created_at)
         FROM deploy_commits dc JOIN deployments d ON d.id = dc.deployment
         WHERE dc.repo = $1 AND d.status = 'success' AND dc.sha IN
           (SELECT head_sha FROM change_requests WHERE repo = $2 AND merged_at IS NOT NULL
            UNION
            SELECT merge_sha FROM change_requests
            WHERE repo = $3 AND merged_at IS NOT NULL AND merge_sha IS NOT NULL)
         GROUP BY dc.sha, d.environment",
    )
    .bind(repo)
    .bind(repo)
    .bind(repo)
    .fetch_all(store.pool())
    .await?;
    let mut deployed: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for r in &shipped {
        let sha: String = r.try_get(0)?;
        deployed
            .entry(sha)
            .or_default()
            .push((r.try_get(1)?, r.try_get(2)?));
    }
    let mut out = Vec::new();
    for r in &rows {
        let id: String = r.try_get("id")?;
        let agent = r.try_get::<String, _>("author_kind")? == "agent";
        let opened: i64 = r.try_get("created_at")?;
        let first: Option<i64> = r.try_get("first_commit_at")?;
        let Some(merged) = r.try_get::<Option<i64>, _>("merged_at")? else {
            continue;
        };
        let reviewed: Option<i64> = r.try_get("reviewed")?;
        let head: String = r.try_get("head_sha")?;
        let merge_sha: Option<String> = r.try_get("merge_sha")?;
        let span = |metric: &str, scope: &str, secs: i64| Span {
            metric: metric.into(),
            scope: scope.into(),
            repo: repo.into(),
            item: id.clone(),
            at: merged,
            agent,
            secs,
        };
        out.push(span("merge", "", merged - opened));
        if let Some(f) = first {
            out.push(span("coding", "", opened - f));
        }
        if let Some(rv) = reviewed.filter(|rv| *rv <= merged) {
            out.push(span("pickup", "", rv - opened));
            out.push(span("review", "", merged - rv));
        }
        // Per environment, the first deploy that shipped the head or the merge commit.
        let mut shipped_at: BTreeMap<&str, i64> = BTreeMap::new();
        for sha in std::iter::once(&head).chain(merge_sha.as_ref()) {
            for (env, at) in deployed.get(sha).map(Vec::as_slice).unwrap_or_default() {
                let e = shipped_at.entry(env.as_str()).or_insert(*at);
                *e = (*e).min(*at);
            }
        }
        for (env, at) in shipped_at {
            out.push(span("deploy", env, at - merged));
        }
    }
    spans::replace(store, repo, &PHASES, None, out).await
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Phase {
    /// coding, pickup, review, deploy or merge.
    pub name: String,
    pub all: Spread,
    pub agent: Spread,
    pub human: Spread,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct WeekCount {
    /// Monday of the week (UTC).
    pub week: String,
    #[ts(type = "number")]
    pub agent: i64,
    #[ts(type = "number")]
    pub human: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct CycleTime {
    /// The environment the deploy phase ends in.
    pub production: String,
    /// In `PHASES` order.
    pub phases: Vec<Phase>,
    /// Changes merged per week, agents vs people, oldest first.
    pub throughput: Vec<WeekCount>,
}

/// Cycle time of the changes merged in `[since, until)` of `repo` (all when `None`).
pub async fn cycle_time(
    store: &Store,
    repo: Option<&str>,
    since: i64,
    until: i64,
    production: &str,
) -> Result<CycleTime, crate::Error> {
    let mut phases = Vec::new();
    for name in PHASES {
        let scope = if name == "deploy" { production } else { "" };
        let (all, agent, human) = spans::split(
            store,
            Range {
                metric: name,
                scope,
                repo,
                since,
                until,
            },
        )
        .await?;
        phases.push(Phase {
            name: name.into(),
            all,
            agent,
            human,
        });
    }
    Ok(CycleTime {
        production: production.into(),
        phases,
        throughput: throughput(store, repo, since, until).await?,
    })
}

/// Merged changes per week by author kind; weeks without merges in between count zero.
pub async fn throughput(
    store: &Store,
    repo: Option<&str>,
    since: i64,
    until: i64,
) -> Result<Vec<WeekCount>, crate::Error> {
    let repo_clause = if repo.is_some() { " AND repo = $3" } else { "" };
    let q = format!(
        "SELECT merged_at / 86400, author_kind, count(*) FROM change_requests
         WHERE merged_at >= $1 AND merged_at < $2{repo_clause}
         GROUP BY merged_at / 86400, author_kind"
    );
    let mut query = sqlx::query(&q).bind(since).bind(until);
    if let Some(r) = repo {
        query = query.bind(r);
    }
    let mut weeks: BTreeMap<String, WeekCount> = BTreeMap::new();
    fn slot(weeks: &mut BTreeMap<String, WeekCount>, week: String) -> &mut WeekCount {
        weeks.entry(week.clone()).or_insert(WeekCount {
            week,
            agent: 0,
            human: 0,
        })
    }
    // Every week of the range shows, so a quiet week is a zero and not a gap.
    let mut t = since;
    while t < until && until.saturating_sub(since) <= 3 * 366 * 86_400 {
        slot(&mut weeks, crate::days::week_of_day(&crate::days::of(t)));
        t = t.saturating_add(7 * 86_400);
    }
    if since < until {
        slot(
            &mut weeks,
            crate::days::week_of_day(&crate::days::of(until - 1)),
        );
    }
    for row in query.fetch_all(store.pool()).await? {
        let day: i64 = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        let n: i64 = row.try_get(2)?;
        let w = slot(
            &mut weeks,
            crate::days::week_of_day(&crate::days::of(day * 86_400)),
        );
        if kind == "agent" {
            w.agent += n;
        } else {
            w.human += n;
        }
    }
    Ok(weeks.into_values().collect())
}
