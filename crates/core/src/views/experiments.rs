//! The Experiments view.

use super::*;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ExperimentsView {
    pub experiments: Vec<Experiment>,
    /// Each experiment's scorecard, in the same order.
    pub scorecards: Vec<crate::stats::scorecard::Scorecard>,
}

pub async fn experiments(store: &Store) -> Result<ExperimentsView> {
    let now = chrono::Utc::now().timestamp();
    let all = store.experiments_to_score().await?;
    let mut experiments = Vec::with_capacity(all.len());
    let mut scorecards = Vec::with_capacity(all.len());
    for (e, metrics, sums, decision) in all {
        let mut c = crate::stats::scorecard::card(e.clone(), &metrics, &sums, now);
        c.decision = decision;
        experiments.push(e);
        scorecards.push(c);
    }
    Ok(ExperimentsView {
        experiments,
        scorecards,
    })
}
