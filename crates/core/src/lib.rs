//! Flightdeck's core: the domain model, the store (SQLite or PostgreSQL through sqlx), the
//! sources that fill it, the forge, the domain rules, the metrics and read models computed over
//! it, and (with the `demo` feature) the demo workspace builder.
//!
//! Nothing here knows about HTTP or Tauri; the app layer, the server and the desktop shell
//! depend on this crate, never the other way round. Inside it, each folder is a layer and
//! imports only from the layers below it (`scripts/check-layers.sh` checks, and that no modules
//! import each other in a cycle):
//!
//! | layer | folder | owns |
//! |---|---|---|
//! | 0 | `model/` | the nouns, days, errors, the event bus, TOML reading, secrets, audit signing, prices |
//! | 0 | `stats/` | experiment statistics: distributions, tests, intervals, corrections, the scorecard (pure) |
//! | 1 | `store/` | every SQL statement, migrations, both engines |
//! | 2 | `sources/`, `forge/` | git repos, agent logs, vendor billing; GitHub, local diffs and merges |
//! | 3 | `domain/` | the rules: policy, outbox, work, dispatch, deploys, releases, budgets, ingest |
//! | 4 | `metrics/`, `views/` | DORA, cycle time, velocity, spend reports; each screen's read model |
//! | 5 | `config.rs`, `watch.rs`, `demo.rs` | settings assembled from every feature's section, live watching, the demo |

pub mod domain;
pub mod forge;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod sources;
pub mod stats;
pub mod store;
pub mod views;

pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod watch;

pub use model::error::{Error, Result};
