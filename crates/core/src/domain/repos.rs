//! Carrying a store over from path keys to repo identities (migration 29): each repo keyed by
//! its clone's path is rekeyed to the identity read from the clone (or, when the clone is gone,
//! from the remote URL stored with it). Runs at the start of every ingest; after the first it
//! finds nothing to do.

use std::path::Path;

use crate::model::error::Result;
use crate::model::pricing::PriceTable;
use crate::model::repo_id;
use crate::sources::git;
use crate::store::Store;

/// One repo carried over, for the ingest's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub from: String,
    pub to: String,
    pub rows: u64,
}

/// Rekeys every path-keyed repo it can identify. A repo whose clone is gone and which had no
/// remote keeps its path as its key: it is still one repo, counted once.
pub async fn carry_over(store: &Store, prices: &PriceTable, now: i64) -> Result<Vec<Carried>> {
    let mut carried = Vec::new();
    for (path, remote) in store.legacy_repos().await? {
        let p = path.clone();
        let read = tokio::task::spawn_blocking(move || git::identity_of(Path::new(&p)))
            .await
            .ok()
            .and_then(|r| r.ok());
        let Some(id) = read.or_else(|| remote.as_deref().and_then(repo_id::from_remote)) else {
            tracing::warn!("{path}: clone gone and no remote; kept under its path");
            continue;
        };
        let done = store.rekey_repo(&path, &id, now).await?;
        tracing::info!("{path}: now {id} ({} rows moved)", done.rows);
        carried.push(Carried {
            from: path,
            to: id,
            rows: done.rows,
        });
    }
    if !carried.is_empty() {
        // Log spend is rolled up per repo; two clones of one repo are now one.
        store.rebuild_log_spend(prices).await?;
    }
    Ok(carried)
}
