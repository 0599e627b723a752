//! What the agent spend buys: cost per merged change, what runs that produced nothing merged
//! cost, cost per changed line that survived review (was merged), and agent cost against the
//! time people spent reviewing it.

use std::collections::HashMap;

use serde::Serialize;
use ts_rs::TS;

use crate::model::error::Result;
use crate::model::{Author, ChangeState};
use crate::store::Store;

/// A run that ended this long ago without merged work on its branch counts as abandoned.
pub const ABANDONED_AFTER_SECS: i64 = 7 * 86_400;

#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ValueView {
    /// Agent-authored changes merged since `since`.
    #[ts(type = "number")]
    pub merged_changes: i64,
    /// What the agent runs behind them cost.
    pub merged_cost_usd: f64,
    /// `None` when nothing was merged.
    pub cost_per_merged_change: Option<f64>,
    /// Runs that ended since `since` (and over a week ago) with nothing merged from their branch.
    #[ts(type = "number")]
    pub abandoned_runs: i64,
    pub abandoned_cost_usd: f64,
    /// Lines added and removed by the merged agent changes whose diffstat is known.
    #[ts(type = "number")]
    pub merged_lines: i64,
    pub cost_per_merged_line: Option<f64>,
    /// Hours from opening to the first human review, summed over the merged agent changes that
    /// had one.
    pub review_hours: f64,
    /// Agent cost of those changes per hour of waiting for and doing human review.
    pub cost_per_review_hour: Option<f64>,
}

fn per(n: f64, d: f64) -> Option<f64> {
    (d > 0.0).then(|| n / d)
}

/// The value figures for what ended or merged since `since` (epoch seconds), as of `now`.
pub async fn value(store: &Store, since: i64, now: i64) -> Result<ValueView> {
    // Only the window's merged changes and their reviews (a store of years holds 100,000s).
    let changes = store.merged_changes_since(since).await?;
    let ids: Vec<String> = changes.iter().map(|c| c.id.clone()).collect();
    let mut first_review: HashMap<&str, i64> = HashMap::new();
    let reviews = store.reviews_of_changes(&ids).await?;
    for r in reviews.iter().filter(|r| !r.reviewer.ends_with("[bot]")) {
        let at = first_review
            .entry(r.change_request.as_str())
            .or_insert(r.at);
        *at = (*at).min(r.at);
    }
    let defaults: HashMap<String, String> = store
        .repos()
        .await?
        .into_iter()
        .map(|r| (r.id, r.default_branch))
        .collect();
    let mut v = ValueView::default();
    let mut review_cost = 0.0;
    // The cost of the changes whose lines are known: the only ones a cost per line can use.
    let mut lined_cost = 0.0;
    for c in &changes {
        if c.state != ChangeState::Merged
            || c.updated_at < since
            || !matches!(c.author, Author::Agent { .. })
        {
            continue;
        }
        v.merged_changes += 1;
        v.merged_cost_usd += c.agent_cost_usd;
        if let (Some(i), Some(d)) = (c.insertions, c.deletions) {
            v.merged_lines += i + d;
            lined_cost += c.agent_cost_usd;
        }
        if let Some(&at) = first_review.get(c.id.as_str()) {
            v.review_hours += (at - c.created_at).max(0) as f64 / 3_600.0;
            review_cost += c.agent_cost_usd;
        }
    }
    // Only the runs in the window are read (a year of runs can be tens of thousands), and
    // only their branches are looked up among the merged changes.
    let runs = store
        .run_costs_ended(since, now - ABANDONED_AFTER_SECS)
        .await?;
    let branches: Vec<(&str, &str)> = runs
        .iter()
        .map(|(repo, branch, _)| (repo.as_str(), branch.as_str()))
        .collect();
    // (repo, branch) whose work was merged.
    let merged_branches = store.merged_branches_among(&branches).await?;
    for (repo, branch, cost) in runs {
        // Work on the default branch went straight in; elsewhere it needs a merged change.
        let straight_in = defaults.get(&repo).is_some_and(|d| *d == branch);
        if straight_in || merged_branches.contains(&(repo, branch)) {
            continue;
        }
        v.abandoned_runs += 1;
        v.abandoned_cost_usd += cost;
    }
    v.cost_per_merged_change = per(v.merged_cost_usd, v.merged_changes as f64);
    v.cost_per_merged_line = per(lined_cost, v.merged_lines as f64);
    v.cost_per_review_hour = per(review_cost, v.review_hours);
    Ok(v)
}
