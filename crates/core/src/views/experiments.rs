//! The Experiments view.

use super::*;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ExperimentsView {
    pub experiments: Vec<Experiment>,
}

pub async fn experiments(store: &Store) -> Result<ExperimentsView> {
    Ok(ExperimentsView {
        experiments: store.experiments().await?,
    })
}
