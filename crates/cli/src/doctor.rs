//! `flightdeck doctor`: checks each thing Flightdeck depends on and prints one line per check,
//! with the fix for anything wrong. Exit code 1 when any check fails.

use std::net::SocketAddr;
use std::process::ExitCode;

use flightdeck_core::config::{Dirs, Settings};
use flightdeck_core::store::Store;

struct Report {
    failed: usize,
}

impl Report {
    fn ok(&self, what: &str, detail: impl std::fmt::Display) {
        outln!("ok    {what}: {detail}");
    }
    fn warn(&self, what: &str, detail: impl std::fmt::Display) {
        outln!("warn  {what}: {detail}");
    }
    fn fail(&mut self, what: &str, detail: impl std::fmt::Display, fix: &str) {
        self.failed += 1;
        outln!("FAIL  {what}: {detail}\n      fix: {fix}");
    }
}

pub async fn run(settings: &Settings, dirs: &Dirs) -> ExitCode {
    let mut r = Report { failed: 0 };
    // Getting here means the config file parsed and validated.
    if dirs.config_file.is_file() {
        r.ok("config", dirs.config_file.display());
    } else {
        r.ok(
            "config",
            format!(
                "{} (not present; defaults in use)",
                dirs.config_file.display()
            ),
        );
    }

    match std::fs::create_dir_all(&settings.data_dir) {
        Ok(()) => r.ok("data dir", settings.data_dir.display()),
        Err(e) => r.fail(
            "data dir",
            format!("{}: {e}", settings.data_dir.display()),
            "set XDG_DATA_HOME to a writable folder, or pass --database-url",
        ),
    }

    // Doctor only looks: a database that is not there yet is said so, not made.
    match Store::open_existing(&settings.database_url).await {
        Ok(store) => {
            match store.counts().await {
                Ok(c) => r.ok(
                    "database",
                    format!(
                        "{} ({}): {} repos, {} commits, {} agent runs, {} change requests",
                        store.target().display_url(),
                        store.backend().as_str(),
                        c.repos,
                        c.commits,
                        c.agent_runs,
                        c.change_requests
                    ),
                ),
                Err(e) => r.fail("database", e, "check the database server and permissions"),
            }
            store.close().await;
        }
        Err(flightdeck_core::Error::NoDatabase { path }) => r.ok(
            "database",
            format!(
                "{} is not created yet (the first `flightdeck ingest` or `serve` makes it)",
                path.display()
            ),
        ),
        Err(e) => r.fail(
            "database",
            e,
            "fix or move the file away, or pass another --database-url",
        ),
    }

    let sources = settings.sources();
    if sources.repos.is_empty() {
        r.warn(
            "repos",
            "none configured: add `repos = [\"/path\"]` under [sources] or pass --repo",
        );
    }
    for repo in &sources.repos {
        match git2::Repository::open(repo) {
            Ok(_) => r.ok("repo", repo.display()),
            Err(e) => r.fail(
                "repo",
                format!("{}: {}", repo.display(), e.message()),
                "remove it from [sources] repos or point it at a git work tree",
            ),
        }
    }
    if sources.claude_dirs.is_empty() {
        r.warn(
            "claude code logs",
            "no ~/.claude/projects found (set CLAUDE_CONFIG_DIR if they live elsewhere)",
        );
    }
    for d in &sources.claude_dirs {
        r.ok("claude code logs", d.display());
    }
    for h in &sources.codex_homes {
        if h.join("sessions").is_dir() {
            r.ok("codex logs", h.join("sessions").display());
        } else {
            r.warn(
                "codex logs",
                format!(
                    "{} not found (set CODEX_HOME if they live elsewhere)",
                    h.join("sessions").display()
                ),
            );
        }
    }

    match settings.ui_dir.clone().or_else(flightdeck_server::default_ui_dir) {
        Some(d) => r.ok("ui", d.display()),
        None => r.warn("ui", "not built: run `npm --prefix ui ci && npm --prefix ui run build` (the API still works)"),
    }
    // Where the GitHub token would come from (never printed), and the policy file.
    let api = &settings.github_api_url;
    match flightdeck_core::forge::github::find_token(api) {
        Some((_, from)) => r.ok("github", format!("{api}, with a token from {from}")),
        None => r.warn(
            "github",
            format!(
                "{api} without a token: 60 requests an hour; {}",
                flightdeck_core::forge::github::how_to_add(api)
            ),
        ),
    }
    match flightdeck_core::domain::policy::PolicyFile::load(&settings.policy_file) {
        Ok(_) if settings.policy_file.exists() => r.ok("policy", settings.policy_file.display()),
        Ok(_) => r.ok(
            "policy",
            format!(
                "{} not present: built-in defaults (one human approval for agent work)",
                settings.policy_file.display()
            ),
        ),
        Err(e) => r.fail(
            "policy",
            e,
            "correct the policy file (README, \"Merge policy\"); until then no merge can be judged",
        ),
    }

    let addr = SocketAddr::new(settings.bind, settings.port);
    match std::net::TcpListener::bind(addr) {
        Ok(_) => r.ok("port", format!("{addr} is free")),
        Err(e) => r.warn(
            "port",
            format!("{addr}: {e} (another Flightdeck running? use --port)"),
        ),
    }

    if r.failed == 0 {
        outln!("all checks passed");
        ExitCode::SUCCESS
    } else {
        outln!("{} check(s) failed", r.failed);
        ExitCode::FAILURE
    }
}
