//! Flightdeck's core: the domain model, the store (SQLite or PostgreSQL through sqlx), the
//! sources that fill it (git repos, agent session logs), the metrics computed over it, the event
//! bus that tells the UI something changed, and (with the `demo` feature) the demo workspace
//! builder.
//!
//! Nothing here knows about HTTP or Tauri; the app layer, the server and the desktop shell
//! depend on this crate, never the other way round. Inside it, the modules import each other
//! without a cycle (`scripts/check-layers.sh` checks; `--order` shows them bottom up).

pub mod actions;
pub mod alerts;
pub mod audit;
pub mod billing;
pub mod board;
pub mod budgets;
pub mod concentration;
pub mod config;
pub mod cycle;
pub mod days;
#[cfg(feature = "demo")]
pub mod demo;
pub mod deploys;
pub mod diff;
pub mod dispatch;
pub mod dora;
pub mod error;
pub mod events;
pub mod fixed_costs;
pub mod forge_sync;
pub mod github;
pub mod incidents;
pub mod ingest;
pub mod issues;
pub mod merge;
pub mod model;
pub mod outbox;
pub mod policy;
pub mod pricing;
pub mod releases;
pub mod reports;
pub mod secrets;
pub mod sources;
pub mod store;
pub mod toml_file;
pub mod value;
pub mod velocity;
pub mod views;
pub mod watch;
pub mod work;

pub use error::{Error, Result};
