//! Flightdeck's application layer: the one place the running app is assembled, called by every
//! front end (the `flightdeck` CLI, the HTTP server, the desktop shell).
//!
//! - [`Lead`]: who acts and with what — identity, audit key, GitHub access, agents, policy —
//!   built once from the settings.
//! - [`Runtime`]: the background work of a running app — live watch, rescans, forge sync, the
//!   outbox sender, vendor billing and resuming dispatches left by an earlier process.
//! - Use cases ([`review`], [`release`], [`experiment`], [`work`]): what a lead does, written once, so a behaviour the UI has
//!   the CLI has too.
//!
//! Layering: this crate depends on `flightdeck-core` only; it knows nothing of HTTP, Tauri or
//! the terminal. The server, the CLI and the desktop shell depend on it.

mod error;
pub mod experiment;
pub mod lead;
pub mod release;
pub mod review;
mod runtime;
pub mod work;

pub use error::AppError;
pub use lead::Lead;
pub use runtime::{notifier, Runtime, RuntimeOptions};

/// Seconds since the Unix epoch, for the use cases' "now".
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
