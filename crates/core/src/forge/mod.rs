//! The forge: where changes live and get merged. GitHub (client, pull-request sync, token
//! discovery, statuses, diffs) and the local git operations a review needs (a local change's
//! diff, merging an agent branch). Stands on the model and the store; knows no domain rule.

pub mod diff;
pub mod github;
pub mod merge;
