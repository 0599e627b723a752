//! The `flightdeck` binary end to end, one module per area: bad input gives one clear line and a
//! non-zero exit (`errors`); `serve` and `demo` serve what they read (`serve`); ingest and
//! reports (`ingest`); the review loop and the outbox (`review`); spend (`spend`); work items
//! and agent dispatch (`work`); deploys and DORA (`deploys`).
//!
//! Built as the `flightdeck-cli` package's test (`crates/cli/Cargo.toml`), so the binary under
//! test is the one cargo just built (`CARGO_BIN_EXE_flightdeck`), never a stale one.

use std::io::BufRead;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../support/mod.rs"]
mod support;
use support::*;

mod deploys;
mod errors;
mod experiments;
mod hygiene;
mod ingest;
mod notify;
mod review;
mod serve;
mod soak;
mod spend;
mod team;
mod work;

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

/// A command isolated from the user's config and data.
fn flightdeck(home: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("FLIGHTDECK_DATABASE_URL")
        .env_remove("FLIGHTDECK_TOKEN")
        .env_remove("FLIGHTDECK_CONFIG")
        .env_remove("FLIGHTDECK_POLICY")
        .env_remove("FLIGHTDECK_AUDIT_KEY")
        .env("FLIGHTDECK_USER", "Alice Lead")
        .env_remove("CLAUDE_CONFIG_DIR")
        .env_remove("CODEX_HOME")
        .env_remove("DISPLAY");
    c
}

/// `flightdeck --database-url DB ARGS…` in `home`.
fn with_db(home: &std::path::Path, db: &std::path::Path, args: &[&str]) -> Output {
    flightdeck(home)
        .arg("--database-url")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

/// Stdout of a command that must have succeeded (its output shown when it did not).
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The one `error:` line on stderr (progress notes may precede it).
fn stderr_line(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).to_string();
    let errors: Vec<&str> = s.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one error line on stderr, got:\n{s}"
    );
    errors[0].to_string()
}
