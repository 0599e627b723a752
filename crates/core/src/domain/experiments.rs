//! Experiment results coming in: a file read (`sources::experiment_file`) replaces what the
//! store holds for that experiment, the one path the CLI, the server and the desktop use.

use std::path::Path;

use crate::sources::experiment_file::{self, FileError, ImportOptions, Imported};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("an experiment id is needed (letters, digits, `-`, `_`, `.`), not `{0}`")]
    BadId(String),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// Reads `path` (off the async runtime: a file of millions of rows takes seconds) and stores it
/// as experiment `o.experiment`. With no variations given, those the store already has for it
/// are required, so a file naming a variation the experiment lacks is refused.
pub async fn import_file(
    store: &Store,
    path: &Path,
    mut o: ImportOptions,
) -> Result<Imported, ImportError> {
    let id = o.experiment.trim();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ImportError::BadId(o.experiment.clone()));
    }
    if o.variations.is_empty() {
        if let Some(known) = store.experiment(id).await? {
            o.variations = known.variants.iter().map(|v| v.name.clone()).collect();
            if o.weights.is_empty() && known.variants.iter().all(|v| v.weight.is_some()) {
                o.weights = known.variants.iter().filter_map(|v| v.weight).collect();
            }
        }
    }
    let path = path.to_path_buf();
    let imported = tokio::task::spawn_blocking(move || experiment_file::read(&path, &o))
        .await
        .map_err(|e| crate::Error::Invalid {
            path: "experiment import".into(),
            message: e.to_string(),
        })??;
    store
        .replace_experiment(&imported.experiment, &imported.metrics, &imported.sums)
        .await?;
    Ok(imported)
}
