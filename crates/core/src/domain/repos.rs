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
        let on_disk = tokio::task::spawn_blocking(move || {
            Path::new(&p)
                .exists()
                .then(|| git::identity_of(Path::new(&p)).ok())
                .flatten()
        })
        .await
        .ok()
        .flatten();
        let remembered = remote.as_deref().and_then(repo_id::from_remote);
        // On a shared database the path may be another machine's: it is a clone here only
        // when the repo at that path here is the one the store knew.
        let (id, clone_here) = match (on_disk, remembered) {
            (Some(d), Some(r)) if d == r => (d, true),
            (Some(_), Some(r)) => (r, false),
            (Some(d), None) => (d, true),
            (None, Some(r)) => (r, false),
            (None, None) => {
                tracing::warn!("{path}: no clone here and no remote; kept under its path");
                continue;
            }
        };
        // Spans keep day counts beside them, which a rename or a dropped duplicate would put
        // out of step: the old key's are cleared through `spans::clear`, which keeps the counts,
        // and the repo is measured again under its identity.
        crate::store::spans::clear(store, &path).await?;
        let done = store.rekey_repo(&path, &id, clone_here, now).await?;
        crate::store::cycle::measure(store, &id).await?;
        crate::domain::deploys::measure_repo(store, &id).await?;
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
