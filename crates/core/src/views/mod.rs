//! What each UI view shows, computed from the store: one read model per view, one file each
//! (`inbox`, `changes`, `agents`, …), re-exported here so callers say `views::inbox`. The server
//! serialises these as they are; the UI's types are generated from them. Pure reads: no view
//! writes anything. `board` is the work board's columns, `alerts` which inbox items deserve a
//! desktop notification.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use ts_rs::TS;

use crate::model::error::Result;
use crate::model::*;
use crate::sources::events;
use crate::store::{Counts, Store};

pub mod alerts;
pub mod board;
pub mod mine;

mod agents;
mod audit;
mod changes;
mod experiments;
mod inbox;
mod releases;
mod repos;
mod spend;
mod velocity;

pub use agents::*;
pub use audit::*;
pub use changes::*;
pub use experiments::*;
pub use inbox::*;
pub use releases::*;
pub use repos::*;
pub use spend::*;
pub use velocity::*;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Health {
    pub status: String,
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub counts: Counts,
}

pub async fn health(store: &Store) -> Result<Health> {
    Ok(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: store.backend().as_str().into(),
        counts: store.counts().await?,
    })
}

fn short_sha(sha: &str) -> &str {
    sha.get(..8).unwrap_or(sha)
}

/// The configured concentration threshold, as the last ingest recorded it.
async fn concentration_threshold(store: &Store) -> Result<f64> {
    Ok(store
        .cursor("spend", "concentration_threshold")
        .await?
        .and_then(|t| t.parse().ok())
        .unwrap_or(crate::metrics::concentration::DEFAULT_THRESHOLD))
}

/// Monday (UTC) of the week holding `ts`, as `YYYY-MM-DD`.
pub fn week_of(ts: i64) -> String {
    crate::model::days::week_of_day(&crate::model::days::of(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-25 is a Wednesday.
        let wed = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        assert_eq!(week_of(wed), "2026-11-23");
    }
}
