//! The cycle-time spans of merged changes: one per change and phase, counted at the merge
//! time, rewritten whenever a merge, review or deploy lands (the forge sync, the outbox and
//! deploys call [`measure`]). The reads are in `metrics::cycle`.
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

use super::spans::{self, Span};
use super::{MergedTimes, Store};

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
