//! Numbers a manager reads, computed from the store: DORA, cycle time, velocity, spend reports,
//! spend concentration and value per change. Read-only over what the domain recorded.

pub mod concentration;
pub mod cycle;
pub mod dora;
pub mod reports;
pub mod team;
pub mod value;
pub mod velocity;
