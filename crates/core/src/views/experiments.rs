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
    let experiments = store.experiments().await?;
    let now = chrono::Utc::now().timestamp();
    let mut scorecards = Vec::with_capacity(experiments.len());
    for e in &experiments {
        let metrics = store.experiment_metrics(&e.id).await?;
        let sums = store.metric_sums(&e.id).await?;
        let mut c = crate::stats::scorecard::card(e.clone(), &metrics, &sums, now);
        c.decision = store.experiment_decision(&e.id).await?;
        scorecards.push(c);
    }
    Ok(ExperimentsView {
        experiments,
        scorecards,
    })
}
