//! Command-line hygiene: a source that cannot be read fails the command; read-only commands
//! never create a database; a named config must exist; an unreachable database is named within
//! seconds; a closed pipe ends the output quietly; budget targets are checked.

use super::*;

/// `ingest` over a good repo, a path that is not there, a folder that is not a repository and
/// a log folder that is not there: what could be read is read and summarised, each of the
/// others is named, and the exit is non-zero.
#[test]
fn ingest_names_each_source_it_cannot_read_and_fails() {
    let home = tempfile::tempdir().unwrap();
    let good = home.path().join("app");
    new_repo(&good);
    let plain = home.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let empty = home.path().join("no-logs");
    std::fs::create_dir_all(&empty).unwrap();
    let db = home.path().join("fd.db");
    let out = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["ingest", "--repo"])
        .arg(&good)
        .args(["--repo", "/nonexistent/repo", "--repo"])
        .arg(&plain)
        .args(["--claude-dir", "/nonexistent/claude", "--codex-home"])
        .arg(&empty)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 repos (1 new commits)"), "{stdout}");
    for named in [
        "/nonexistent/repo",
        &plain.display().to_string(),
        "--claude-dir /nonexistent/claude",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("error: cannot read") && l.contains(named)),
            "{named} not named:\n{stderr}"
        );
    }
    assert!(stderr.contains("3 source(s) could not be read"), "{stderr}");
    // What could be read was stored.
    let listed = ok(&with_db(home.path(), &db, &["report", "agents"]));
    assert!(!listed.is_empty());
}

/// A mistyped `--database-url` given to a command that only reads: an error naming the path,
/// and no file made there.
#[test]
fn read_only_commands_never_create_a_database() {
    let home = tempfile::tempdir().unwrap();
    let typo = home.path().join("typo.db");
    for args in [
        &["report", "agents"][..],
        &["report", "dora"],
        &["report", "spend", "--by", "vendor"],
        &["changes"],
        &["outbox"],
        &["experiment", "list"],
        &["audit", "export"],
    ] {
        let out = with_db(home.path(), &typo, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let line = stderr_line(&out);
        assert!(
            line.contains("no Flightdeck database at") && line.contains("typo.db"),
            "{args:?}: {line}"
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    // Doctor looks without making it either, and says so.
    let out = with_db(home.path(), &typo, &["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not created yet"), "{text}");
    assert!(!typo.exists(), "doctor created {}", typo.display());
}

/// A config file named with `--config` or FLIGHTDECK_CONFIG must exist: a typo there would
/// otherwise run with none of the user's settings.
#[test]
fn a_named_config_file_must_exist() {
    let home = tempfile::tempdir().unwrap();
    let out = flightdeck(home.path())
        .args(["--config", "/nonexistent/flightdeck.toml", "doctor"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("/nonexistent/flightdeck.toml") && line.contains("No such file"),
        "{line}"
    );
    let out = flightdeck(home.path())
        .env("FLIGHTDECK_CONFIG", "/nonexistent/env.toml")
        .args(["report", "agents"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("/nonexistent/env.toml"));
}

/// A PostgreSQL URL to a closed port says "connection refused" at once, and one to a server
/// that never answers gives up within seconds, naming the wait; not "pool timed out" after 30 s.
#[test]
fn an_unreachable_database_is_named_within_seconds() {
    let home = tempfile::tempdir().unwrap();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let out = with_db(
        home.path(),
        std::path::Path::new(&format!("postgres://fd@127.0.0.1:{closed}/fd")),
        &["report", "agents"],
    );
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(line.to_lowercase().contains("refused"), "{line}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // Accepts connections (the kernel does) but never speaks.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let out = with_db(
        home.path(),
        std::path::Path::new(&format!("postgres://fd@127.0.0.1:{port}/fd")),
        &["report", "agents"],
    );
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(line.contains("no answer within 5 s"), "{line}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

/// `flightdeck report … | head -1`: the reader goes away, the command ends quietly (no panic,
/// no error, exit 0), for text and for CSV.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("app");
    new_repo(&repo);
    let db = home.path().join("fd.db");
    let empty = home.path().join("no-logs");
    std::fs::create_dir_all(&empty).unwrap();
    let ingest = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["ingest", "--repo"])
        .arg(&repo)
        .arg("--claude-dir")
        .arg(&empty)
        .arg("--codex-home")
        .arg(&empty)
        .output()
        .unwrap();
    ok(&ingest);
    for args in [
        &["report", "agents"][..],
        &["report", "dora", "--csv"],
        &["report", "spend", "--by", "day", "--csv"],
    ] {
        let mut child = flightdeck(home.path())
            .arg("--database-url")
            .arg(&db)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before anything is written: every write meets a closed pipe.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }

    // Budget targets as shown (the repo's name), refused by name when they match nothing.
    let set = ok(&with_db(
        home.path(),
        &db,
        &["budget", "set", "repo", "5", "--target", "app"],
    ));
    assert!(set.contains("budget repo:root:"), "{set}");
    let out = with_db(
        home.path(),
        &db,
        &["budget", "set", "repo", "5", "--target", "nosuchrepo"],
    );
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("no repo `nosuchrepo`") && line.contains("(known: app)"),
        "{line}"
    );
}

/// `serve --bind ::1` prints a URL a browser can open: the IPv6 address in brackets.
#[test]
fn an_ipv6_bind_prints_a_bracketed_url() {
    let home = tempfile::tempdir().unwrap();
    let empty = home.path().join("no-logs");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = flightdeck(home.path());
    cmd.arg("--database-url")
        .arg(home.path().join("fd.db"))
        .args(["serve", "--bind", "::1", "--port", "0", "--claude-dir"])
        .arg(&empty)
        .arg("--codex-home")
        .arg(&empty);
    let (_server, printed, _) = support::spawn_until(cmd, "/login?code=");
    let line = printed.iter().find(|l| l.contains("/login?code=")).unwrap();
    assert!(line.contains("http://[::1]:"), "{line}");
}

/// A repository added with `repo add` and later deleted fails each ingest, naming the way out;
/// `repo remove` takes it, and ingest succeeds again.
#[test]
fn a_watched_repository_that_is_gone_can_be_removed() {
    let home = tempfile::tempdir().unwrap();
    let gone = home.path().join("gone");
    new_repo(&gone);
    let none = home.path().join("none");
    std::fs::create_dir_all(&none).unwrap();
    let db = home.path().join("fd.db");
    let ingest = || {
        flightdeck(home.path())
            .arg("--database-url")
            .arg(&db)
            .args(["ingest", "--claude-dir"])
            .arg(&none)
            .arg("--codex-home")
            .arg(&none)
            .output()
            .unwrap()
    };
    let path = gone.display().to_string();
    ok(&with_db(home.path(), &db, &["repo", "add", &path]));
    ok(&ingest());
    std::fs::remove_dir_all(&gone).unwrap();
    let out = ingest();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("flightdeck repo remove {path}")),
        "{stderr}"
    );
    ok(&with_db(home.path(), &db, &["repo", "remove", &path]));
    ok(&ingest());
    let out = with_db(home.path(), &db, &["repo", "remove", &path]);
    assert!(stderr_line(&out).contains("is not a watched repository"));
}
