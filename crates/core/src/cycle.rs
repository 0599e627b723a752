//! Cycle time of merged changes, by phase, split agent vs human, and throughput per week.
//!
//! Phases (each a span in `store::spans`, counted at the merge time):
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
use ts_rs::TS;

use crate::store::spans::{self, Range, Span, Spread};
use crate::store::{MergedTimes, Store};

pub const PHASES: [&str; 5] = ["coding", "pickup", "review", "deploy", "merge"];

/// Measures the merged changes of `repo` into spans (only what changed is written).
pub async fn measure(store: &Store, repo: &str) -> Result<(), crate::Error> {
    let rows = store.merged_change_times(repo).await?;
    // First successful deploy per environment of each merged head and merge commit.
    let mut deployed: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for (sha, env, at) in store.merges_first_deployed(repo).await? {
        deployed.entry(sha).or_default().push((env, at));
    }
    let mut out = Vec::new();
    for r in rows {
        let MergedTimes {
            id,
            agent,
            opened,
            first_commit: first,
            merged,
            reviewed,
            head,
            merge_sha,
        } = r;
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
    for (day, kind, n) in store.merges_per_day(repo, since, until).await? {
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
