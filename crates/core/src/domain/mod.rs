//! The rules of the lead's work: review policy, the outbox that applies decisions exactly once,
//! work items and agent dispatch, deploys, incidents, releases, budgets and fixed costs, and
//! ingest (every source once, into the store). Stands on the model, the store, the sources and
//! the forge.

pub mod access;
pub mod actions;
pub mod agent_env;
pub mod budgets;
pub mod deploys;
pub mod dispatch;
pub mod experiment_links;
pub mod experiments;
pub mod fixed_costs;
pub mod forge_sync;
pub mod incidents;
pub mod ingest;
pub mod issues;
pub mod outbox;
pub mod policy;
pub mod releases;
pub mod repos;
pub mod team;
pub mod trust;
pub mod work;
