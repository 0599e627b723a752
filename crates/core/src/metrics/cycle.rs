//! Cycle time of merged changes, by phase (coding, pickup, review, deploy, merge; defined
//! where their spans are written, `store::cycle`), split agent vs human, and throughput per
//! week.

use std::collections::BTreeMap;

use serde::Serialize;
use ts_rs::TS;

use crate::store::cycle::PHASES;
use crate::store::spans::{self, Range, Spread};
use crate::store::Store;

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
        slot(
            &mut weeks,
            crate::model::days::week_of_day(&crate::model::days::of(t)),
        );
        t = t.saturating_add(7 * 86_400);
    }
    if since < until {
        slot(
            &mut weeks,
            crate::model::days::week_of_day(&crate::model::days::of(until - 1)),
        );
    }
    for (day, kind, n) in store.merges_per_day(repo, since, until).await? {
        let w = slot(
            &mut weeks,
            crate::model::days::week_of_day(&crate::model::days::of(day * 86_400)),
        );
        if kind == "agent" {
            w.agent += n;
        } else {
            w.human += n;
        }
    }
    Ok(weeks.into_values().collect())
}
