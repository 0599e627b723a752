//! The `flightdeck` binary end to end: bad input gives one clear line and a non-zero exit;
//! `demo` serves demo data; `doctor` tells good from bad.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// Starts a `serve` or `demo` on port 0 and returns it with the port it printed. Letting the OS
/// pick at bind time, rather than probing for a free port first, leaves no gap in which another
/// test's outgoing connections (or their TIME_WAIT) can take the port.
fn spawn_listening(mut cmd: Command) -> (Server, u16) {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let port = line
                .split_once("http://127.0.0.1:")
                .and_then(|(_, rest)| rest.split('/').next())
                .and_then(|p| p.parse::<u16>().ok());
            if let Some(port) = port {
                let _ = tx.send(port);
            }
            // Keep draining so the server never blocks on a full pipe.
        }
    });
    match rx.recv_timeout(Duration::from_secs(180)) {
        Ok(port) => (server, port),
        Err(_) => panic!(
            "the server printed no address; its stderr:\n{}",
            std::fs::read_to_string(stderr.path()).unwrap_or_default()
        ),
    }
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn malformed_config_names_file_line_and_key() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("bad.toml");
    std::fs::write(&cfg, "[server]\nport = 70000\n").unwrap();
    let out = flightdeck(home.path())
        .args(["--config"])
        .arg(&cfg)
        .arg("doctor")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(line.contains(&format!("{}:2:", cfg.display())), "{line}");
    assert!(line.contains("server.port"), "{line}");
}

#[test]
fn config_file_in_the_xdg_dir_is_read() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[sources]\nrepo = []\n").unwrap();
    let out = flightdeck(home.path()).arg("doctor").output().unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(line.contains("config/flightdeck/config.toml:2:"), "{line}");
    assert!(line.contains("unknown field `repo`"), "{line}");
}

#[test]
fn corrupt_database_is_named() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("broken.db");
    std::fs::write(&db, vec![b'x'; 4096]).unwrap();
    let out = flightdeck(home.path())
        .args(["--database-url"])
        .arg(&db)
        .args(["serve", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("broken.db") && line.contains("corrupt"),
        "{line}"
    );
}

#[test]
fn unwritable_database_is_named() {
    let home = tempfile::tempdir().unwrap();
    let out = flightdeck(home.path())
        .args(["--database-url", "/proc/nope/fd.db", "serve", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("/proc/nope/fd.db") && line.contains("cannot be written"),
        "{line}"
    );
}

#[test]
fn port_in_use_is_named() {
    let home = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = flightdeck(home.path())
        .args(["serve", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains(&format!("port {port}")) && line.contains("already in use"),
        "{line}"
    );
}

#[test]
fn non_loopback_bind_without_token_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = flightdeck(home.path())
        .args(["serve", "--bind", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("0.0.0.0") && line.contains("--token"),
        "{line}"
    );
}

#[test]
fn doctor_names_a_broken_policy_file() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("policy.toml"),
        "[default]\nagent_approvals = \"two\"\n",
    )
    .unwrap();
    let out = flightdeck(home.path()).arg("doctor").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL  policy") && stdout.contains("policy.toml:2:"),
        "{stdout}"
    );
}

#[test]
fn doctor_reports_a_broken_repo_and_passes_a_good_setup() {
    let home = tempfile::tempdir().unwrap();
    let out = flightdeck(home.path())
        .args(["doctor", "--repo"])
        .arg(home.path().join("not-a-repo"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL  repo") && stdout.contains("not-a-repo"),
        "{stdout}"
    );
    assert!(stdout.contains("fix:"), "{stdout}");

    let repo = home.path().join("repo");
    git2::Repository::init(&repo).unwrap();
    let out = flightdeck(home.path())
        .args(["doctor", "--repo"])
        .arg(&repo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("ok    policy"), "{stdout}");
    assert!(
        stdout.contains("ok    database") && stdout.contains("all checks passed"),
        "{stdout}"
    );
}

#[test]
fn demo_serves_demo_data() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("demo");
    let mut cmd = flightdeck(home.path());
    cmd.args(["demo", "--no-open", "--port", "0", "--dir"])
        .arg(&dir);
    let (_server, port) = spawn_listening(cmd);
    let deadline = Instant::now() + Duration::from_secs(120);
    let health = loop {
        if let Some((200, body)) = http_get(port, "/api/health") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "demo did not come up on port {port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(health.contains("\"repos\":3"), "{health}");
    let (status, changes) = http_get(port, "/api/changes").unwrap();
    assert_eq!(status, 200);
    assert!(
        changes.contains("claude/add-rate-limiting"),
        "{changes:.400}"
    );
    assert!(dir.join("repos/acme-api/.git").is_dir());
    assert!(dir.join("flightdeck.db").is_file());

    // The demo's audit trail is signed with its own key: it verifies with that key, exports,
    // and the export verifies elsewhere; an edited export does not.
    let db = dir.join("flightdeck.db");
    let audit = |key: &std::path::Path, args: &[&str]| {
        flightdeck(home.path())
            .env("FLIGHTDECK_AUDIT_KEY", key)
            .arg("--database-url")
            .arg(&db)
            .arg("audit")
            .args(args)
            .output()
            .unwrap()
    };
    let demo_key = dir.join("audit-key");
    let out = audit(&demo_key, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok: 5 entries"), "{text}");
    // The demo's pending release: what it holds over production, approved here and signed.
    let release = |args: &[&str]| {
        flightdeck(home.path())
            .env("FLIGHTDECK_AUDIT_KEY", &demo_key)
            .arg("--database-url")
            .arg(&db)
            .arg("release")
            .args(args)
            .output()
            .unwrap()
    };
    let list: serde_json::Value =
        serde_json::from_slice(&release(&["list", "--json"]).stdout).unwrap();
    let pending = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "pending")
        .expect("the demo has a pending release")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown: serde_json::Value =
        serde_json::from_slice(&release(&["show", &pending, "--json"]).stdout).unwrap();
    assert!(!shown["commits"].as_array().unwrap().is_empty(), "{shown}");
    let out = release(&["reject", &pending, "--reason", ""]);
    assert!(stderr_line(&out).contains("needs a reason"));
    let out = release(&["approve", &pending, "--reason", "looks good", "--tag"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && said.contains("approved"), "{said}");
    let tag = shown["release"]["name"].as_str().unwrap();
    let repo_name = shown["release"]["repo"].as_str().unwrap();
    let out = release(&["verify-tag", tag, "--repo", repo_name]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.starts_with("ok: approved release"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = audit(&demo_key, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("ok: 6 entries"), "{text}");
    // Another lead's machine does not trust the demo key until told to.
    let elsewhere = home.path().join("elsewhere-key");
    let out = audit(&elsewhere, &["verify"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not trusted"));
    let demo_public = String::from_utf8_lossy(&audit(&demo_key, &["key"]).stdout)
        .trim()
        .to_string();
    assert!(audit(&elsewhere, &["verify", "--trust", &demo_public])
        .status
        .success());
    let export = home.path().join("audit.json");
    let out = audit(&demo_key, &["export", "--out", export.to_str().unwrap()]);
    assert!(out.status.success());
    let out = audit(&elsewhere, &["verify", "--file", export.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let edited = std::fs::read_to_string(&export).unwrap().replacen(
        "fast-forward into main",
        "merge commit into main",
        1,
    );
    std::fs::write(&export, edited).unwrap();
    let out = audit(&elsewhere, &["verify", "--file", export.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("entry 2: was edited"), "{text}");
    // The demo refuses to build over a folder that is not its own.
    let other = home.path().join("precious");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep me").unwrap();
    let out = flightdeck(home.path())
        .args(["demo", "--no-open", "--port", "0", "--dir"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not a Flightdeck demo"));
    assert_eq!(
        std::fs::read_to_string(other.join("notes.txt")).unwrap(),
        "keep me"
    );
}

/// A repository on `main` with one commit.
fn new_repo(path: &std::path::Path) -> git2::Repository {
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(path, &init).unwrap();
    commit_on(&repo, "main", "a.txt", "Initial commit");
    repo
}

/// Commits `file` on `branch` (created from HEAD when new) in a real repository.
fn commit_on(repo: &git2::Repository, branch: &str, file: &str, message: &str) {
    let workdir = repo.workdir().unwrap().to_path_buf();
    std::fs::write(workdir.join(file), message).unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(std::path::Path::new(file)).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Alice", "alice@acme.dev").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let refname = format!("refs/heads/{branch}");
    repo.commit(Some(&refname), &sig, &sig, message, &tree, &parents)
        .unwrap();
}

#[test]
fn serve_ingests_flagged_sources_and_picks_up_new_branches() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("work/app");
    let repo = new_repo(&path);
    commit_on(
        &repo,
        "claude/first",
        "b.txt",
        "Add b\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
    );
    let empty = home.path().join("no-logs");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = flightdeck(home.path());
    cmd.args(["serve", "--rescan-secs", "1", "--port", "0", "--repo"])
        .arg(&path)
        .arg("--claude-dir")
        .arg(&empty)
        .arg("--codex-home")
        .arg(&empty);
    let (_server, port) = spawn_listening(cmd);
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, body)) = http_get(port, "/api/changes") {
                if body.contains(needle) {
                    return body;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{needle} never appeared in /api/changes"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let body = wait_for("claude/first");
    assert!(
        body.contains(r#""author":{"kind":"agent","agent":"claude-code"}"#),
        "{body}"
    );
    // A new agent branch made while serving shows up on the next rescan, without a restart.
    repo.set_head("refs/heads/main").unwrap();
    commit_on(&repo, "codex/second", "c.txt", "Add c");
    wait_for("codex/second");
}

/// A Claude Code corpus of `sessions` files × `lines` usage lines, with streaming snapshots and
/// a resumed copy of every tenth session, as the real logs have them.
fn write_corpus(dir: &std::path::Path, sessions: usize, lines: usize) {
    let proj = dir.join("projects/-work-app");
    std::fs::create_dir_all(&proj).unwrap();
    for s in 0..sessions {
        let mut out = String::new();
        for i in 0..lines {
            for (k, output) in [(0, 3), (1, 50 + (i % 400))] {
                let _ = k;
                out.push_str(
                    &serde_json::json!({
                        "type": "assistant", "sessionId": format!("s{s}"), "cwd": "/work/app",
                        "timestamp": format!("2026-0{}-1{}T10:{:02}:{:02}.000Z", 1 + s % 9, s % 10, (i / 60) % 60, i % 60),
                        "requestId": format!("req_{s}_{i}"),
                        "message": {"id": format!("msg_{s}_{i}"), "model": if i % 3 == 0 { "claude-opus-4-7" } else { "claude-sonnet-4-5" },
                            "role": "assistant", "content": [{"type": "text", "text": "working on it"}],
                            "usage": {"input_tokens": 5 + i % 7, "output_tokens": output,
                                "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000 + i}}
                    })
                    .to_string(),
                );
                out.push('\n');
            }
        }
        std::fs::write(proj.join(format!("s{s:04}.jsonl")), &out).unwrap();
        if s % 10 == 0 {
            std::fs::write(proj.join(format!("s{s:04}-resumed.jsonl")), &out).unwrap();
        }
    }
}

fn report_json(home: &std::path::Path, db: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = flightdeck(home)
        .arg("--database-url")
        .arg(db)
        .args(["report"])
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ingest_killed_midway_and_restarted_gives_the_clean_totals() {
    let home = tempfile::tempdir().unwrap();
    let corpus = home.path().join("claude");
    write_corpus(&corpus, 20, 600);
    let ingest = |db: &std::path::Path| {
        let mut c = flightdeck(home.path());
        c.arg("--database-url")
            .arg(db)
            .args(["ingest", "--claude-dir"])
            .arg(&corpus)
            .args(["--codex-home"])
            .arg(home.path().join("no-codex"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let clean_db = home.path().join("clean.db");
    let started = Instant::now();
    assert!(ingest(&clean_db).status().unwrap().success());
    let clean_time = started.elapsed();

    // Kill -9 partway through, then run to the end.
    let crash_db = home.path().join("crash.db");
    let mut child = ingest(&crash_db).spawn().unwrap();
    std::thread::sleep(clean_time * 2 / 5);
    assert!(
        child.try_wait().unwrap().is_none(),
        "ingest finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(ingest(&crash_db).status().unwrap().success());

    for by in ["session", "model", "day"] {
        let clean = report_json(home.path(), &clean_db, &["usage", "--by", by]);
        let crashed = report_json(home.path(), &crash_db, &["usage", "--by", by]);
        assert_eq!(clean, crashed, "usage by {by}");
    }
    let clean = report_json(home.path(), &clean_db, &["usage", "--by", "session"]);
    // The resumed copies add nothing: 20 sessions of 600 billed requests each (a request
    // counts in whichever copy was read first, so 20 rows either way).
    let rows = clean["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 20);
    let outputs: i64 = (0..600).map(|i| 50 + (i % 400) as i64).sum();
    assert_eq!(
        clean["total"]["tokens"]["output"].as_i64().unwrap(),
        20 * outputs
    );
}

#[test]
fn reports_and_repo_add() {
    let home = tempfile::tempdir().unwrap();
    let corpus = home.path().join("claude");
    write_corpus(&corpus, 3, 10);
    let path = home.path().join("work/app");
    let repo = new_repo(&path);
    commit_on(
        &repo,
        "main",
        "b.txt",
        "Add b\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
    );
    let db = home.path().join("fd.db");
    let out = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["repo", "add"])
        .arg(path.join("a.txt").parent().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["repo", "add"])
        .arg(home.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not inside a git work tree"));
    let out = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["ingest", "--claude-dir"])
        .arg(&corpus)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("1 repos (2 new commits)") && text.contains("4 log files read"),
        "{text}"
    );

    let commits = report_json(home.path(), &db, &["commits", "--by", "agent"]);
    let keys: Vec<&str> = commits
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["claude-code", "human"]);
    let usage = report_json(home.path(), &db, &["usage", "--by", "agent"]);
    assert_eq!(usage["rows"][0]["key"], "claude-code");
    let since = report_json(
        home.path(),
        &db,
        &["usage", "--by", "day", "--since", "2026-02-01"],
    );
    assert!(since["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["key"].as_str().unwrap() >= "2026-02-01"));
    let agents = report_json(home.path(), &db, &["agents"]);
    assert_eq!(agents.as_array().unwrap().len(), 4);
    let out = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["report", "usage", "--since", "yesterday"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not a date"));
}

/// A commit on `branch` made without touching the work tree or index (as an agent working in
/// another worktree would).
fn agent_commit(repo: &git2::Repository, branch: &str, file: &str, body: &str) -> String {
    let parent = repo.head().unwrap().peel_to_commit().unwrap();
    let mut tb = repo.treebuilder(Some(&parent.tree().unwrap())).unwrap();
    tb.insert(file, repo.blob(body.as_bytes()).unwrap(), 0o100644)
        .unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = git2::Signature::now("Claude", "noreply@anthropic.com").unwrap();
    repo.commit(
        Some(&format!("refs/heads/{branch}")),
        &sig,
        &sig,
        &format!("Add {file}"),
        &tree,
        &[&parent],
    )
    .unwrap()
    .to_string()
}

#[test]
fn review_loop_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("work/app");
    let repo = new_repo(&path);
    let head = agent_commit(&repo, "claude/limit", "limit.rs", "// limiter\n");
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    ok(&run(&["ingest", "--repo", path.to_str().unwrap()]));

    // The default policy wants a person's approval of agent work.
    let changes: serde_json::Value =
        serde_json::from_str(&ok(&run(&["changes", "--json"]))).unwrap();
    assert_eq!(changes.as_array().unwrap().len(), 1);
    assert_eq!(changes[0]["verdict"]["pass"], false);
    let out = run(&["merge", "claude/limit"]);
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("0 of 1 human approvals") && line.contains("--override"),
        "{line}"
    );

    let text = ok(&run(&["approve", "claude/limit", "--comment", "good"]));
    assert!(text.contains("approved at"), "{text}");
    let changes: serde_json::Value =
        serde_json::from_str(&ok(&run(&["changes", "--json"]))).unwrap();
    assert_eq!(changes[0]["verdict"]["pass"], true, "{changes}");
    let text = ok(&run(&["merge", "claude/limit"]));
    assert!(text.contains(&format!("fast-forward to {head}")), "{text}");
    assert_eq!(
        repo.revparse_single("refs/heads/main")
            .unwrap()
            .id()
            .to_string(),
        head
    );
    assert!(
        path.join("limit.rs").is_file(),
        "the checked-out main was updated"
    );

    // A change not worth merging is closed, with the reason; its branch stays.
    agent_commit(&repo, "codex/spare", "spare.rs", "// spare\n");
    ok(&run(&["ingest", "--repo", path.to_str().unwrap()]));
    let text = ok(&run(&["close", "codex/spare", "--comment", "superseded"]));
    assert!(
        text.contains("closed at") && text.contains("superseded"),
        "{text}"
    );
    let changes: serde_json::Value =
        serde_json::from_str(&ok(&run(&["changes", "--json"]))).unwrap();
    assert_eq!(changes.as_array().unwrap().len(), 0, "{changes}");
    assert!(repo
        .find_branch("codex/spare", git2::BranchType::Local)
        .is_ok());
    let out = run(&["merge", "codex/spare", "--squash", "--rebase"]);
    assert!(!out.status.success(), "one method at a time");

    // A merge refused by a dirty work tree is retried from the outbox once it is clean.
    let later = agent_commit(&repo, "codex/later", "later.rs", "// later\n");
    ok(&run(&["ingest", "--repo", path.to_str().unwrap()]));
    ok(&run(&["approve", "codex/later"]));
    std::fs::write(path.join("a.txt"), "edited by hand").unwrap();
    let out = run(&["merge", "codex/later", "--rebase"]);
    assert!(!out.status.success());
    assert!(
        stderr_line(&out).contains("uncommitted changes"),
        "{}",
        stderr_line(&out)
    );
    let listing = ok(&run(&["outbox"]));
    let failed = listing.lines().find(|l| l.contains("failed")).unwrap();
    let prefix = failed.split_whitespace().next().unwrap();
    std::fs::write(path.join("a.txt"), "Initial commit").unwrap();
    let text = ok(&run(&["outbox", "--retry", prefix]));
    assert!(text.starts_with("merge applied"), "{text}");
    assert_eq!(
        repo.revparse_single("refs/heads/main")
            .unwrap()
            .id()
            .to_string(),
        later,
        "fast-forward (rebase onto an unmoved base)"
    );
    let out = run(&["outbox", "--dismiss", prefix]);
    assert!(
        stderr_line(&out).contains("only failed actions"),
        "{}",
        stderr_line(&out)
    );

    let outbox: serde_json::Value = serde_json::from_str(&ok(&run(&["outbox", "--json"]))).unwrap();
    let states: Vec<(&str, &str, &str)> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap(),
                a["state"].as_str().unwrap(),
                a["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("approve", "applied", "Alice Lead"),
            ("merge", "applied", "Alice Lead"),
            ("close", "applied", "Alice Lead"),
            ("approve", "applied", "Alice Lead"),
            ("merge", "applied", "Alice Lead")
        ]
    );
    let text = ok(&run(&["audit", "verify"]));
    assert!(text.contains("ok: 7 entries"), "{text}");
    let text = ok(&run(&["sync"]));
    assert!(text.contains("0 applied"), "{text}");
}

/// The outbox's promise under the worst conditions: 1,000 decisions queued for (the fake)
/// GitHub, which fails at random — before acting and after acting with the answer lost — while
/// `flightdeck sync` is killed with SIGKILL mid-run, again and again, and restarted. Every
/// decision lands exactly once: one review carrying its key.
#[test]
fn outbox_survives_kill_9_exactly_once() {
    use fakehub::{Fault, Hub};
    use flightdeck_core::audit::AuditKey;
    use flightdeck_core::github::{change_id, marker};
    use flightdeck_core::outbox::{self, Payload};
    use flightdeck_core::store::Store;

    const REPO: &str = "acme/widgets";
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("fd.db");
    let key_path = home.path().join("audit-key");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = Hub::new();
    hub.add_numbered_pulls(REPO, 20);
    let url = rt.block_on(hub.serve(0)).unwrap();
    let keys: Vec<(u64, String)> = rt.block_on(async {
        let store = Store::open(&db.display().to_string()).await.unwrap();
        let mut keys = Vec::new();
        for i in 0..1000u64 {
            let n = i % 20 + 1;
            let p = Payload {
                repo: REPO.into(),
                number: Some(n),
                sha: format!("sha{n}"),
                body: Some(format!("ok {i}")),
                ..Default::default()
            };
            let a = outbox::enqueue(&store, "approve", &change_id(REPO, n), &p, "alice", 1)
                .await
                .unwrap();
            keys.push((n, a.idempotency_key));
        }
        store.close().await;
        keys
    });
    AuditKey::load_or_create(&key_path).unwrap();
    hub.push_random_faults(0x9e37_79b9_7f4a_7c15, 4000, |x| match x % 10 {
        0 => Fault::Status(502),
        1 | 2 => Fault::AfterApply(504),
        _ => Fault::Slow(Duration::from_millis(1)),
    });
    let sync = || {
        let mut c = flightdeck(home.path());
        c.arg("--database-url")
            .arg(&db)
            .arg("sync")
            .env("FLIGHTDECK_GITHUB_API", &url)
            .env("GH_TOKEN", "test-token")
            .env("FLIGHTDECK_AUDIT_KEY", &key_path)
            // Retries and a killed sender's claims are due again at once (the defaults are
            // 30 s and 2 min).
            .env("FLIGHTDECK_OUTBOX_RETRY_SECS", "0")
            .env("FLIGHTDECK_OUTBOX_LEASE_SECS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut kills = 0;
    for round in 0..8u64 {
        let mut child = sync().spawn().unwrap();
        std::thread::sleep(Duration::from_millis(250 + 60 * round));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(1100)); // past the (zero) lease second
    }
    assert!(kills >= 3, "sync was killed mid-run only {kills} times");
    let mut done = false;
    for _ in 0..30 {
        let _ = sync().status().unwrap();
        let out = flightdeck(home.path())
            .arg("--database-url")
            .arg(&db)
            .args(["outbox", "--json"])
            .output()
            .unwrap();
        let actions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if actions
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "applied")
        {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(done, "not every action was applied");
    for (n, k) in &keys {
        let copies = hub
            .reviews(REPO, *n)
            .iter()
            .filter(|r| r.3.contains(&marker(k)))
            .count();
        assert_eq!(copies, 1, "action {k} on #{n} applied {copies} times");
    }
    let total: usize = (1..=20).map(|n| hub.reviews(REPO, n).len()).sum();
    assert_eq!(total, 1000);
}

/// The GitHub token kept in the OS keyring — a real Secret Service (gnome-keyring on a private
/// D-Bus session): stored from standard input, found by `token status` and `doctor`, sent to
/// (the fake) GitHub by `sync`, never printed nor written to the database; then removed.
#[test]
fn the_github_token_lives_in_the_os_keyring() {
    use fakehub::{Hub, Pr};
    const TOKEN: &str = "ghp_keyring_5ecret";
    for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap()
                .status
                .success(),
            "{tool} is missing: run scripts/setup.sh --tests (it installs dbus and gnome-keyring)"
        );
    }
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("work/widgets");
    let repo = new_repo(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = Hub::new();
    hub.require_token(TOKEN);
    hub.add_pull(
        "acme/widgets",
        Pr::new(7, "Add cache", "claude[bot]", "claude/cache", "c7"),
    );
    let url = rt.block_on(hub.serve(0)).unwrap();
    let host = flightdeck_core::github::forge_host(&url);
    repo.remote("origin", &format!("http://{host}/acme/widgets.git"))
        .unwrap();
    let db = home.path().join("fd.db");
    // One private session bus and keyring for the whole conversation, as a desktop session has.
    let script = r#"
        set -u
        echo -n unlock-me | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
        fd() { "$BIN" --database-url "$DB" "$@"; }
        echo "== status before"; fd token status
        echo "== set"; printf '%s\n' "$SECRET" | fd token set
        echo "== status"; fd token status
        echo "== doctor"; fd doctor 2>&1 | grep github
        echo "== ingest"; fd ingest --repo "$REPO" >/dev/null
        echo "== sync"; fd sync
        echo "== changes"; fd changes --json | grep -c 'github:acme/widgets#7'
        echo "== delete"; fd token delete
        echo "== status after"; fd token status
    "#;
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("FLIGHTDECK_USER", "Alice Lead")
        .env("FLIGHTDECK_GITHUB_API", &url)
        .env("BIN", BIN)
        .env("DB", &db)
        .env("REPO", &path)
        .env("SECRET", TOKEN)
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .env_remove("FLIGHTDECK_DATABASE_URL")
        .env_remove("FLIGHTDECK_CONFIG")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let section = |name: &str| -> String {
        let start = stdout
            .find(&format!("== {name}\n"))
            .unwrap_or_else(|| panic!("no {name} in:\n{stdout}\n{stderr}"));
        let rest = &stdout[start + name.len() + 4..];
        rest[..rest.find("== ").unwrap_or(rest.len())]
            .trim()
            .to_string()
    };
    assert!(section("status before").contains("no token"), "{stdout}");
    assert!(
        section("set").contains("stored the token"),
        "{stdout}\n{stderr}"
    );
    assert!(
        section("status").contains("a token from the OS keyring"),
        "{stdout}"
    );
    assert!(
        section("doctor").contains("with a token from the OS keyring"),
        "{stdout}"
    );
    assert_eq!(
        section("changes"),
        "1",
        "synced with the keyring's token:\n{stdout}\n{stderr}"
    );
    assert!(section("delete").contains("removed the token"), "{stdout}");
    assert!(section("status after").contains("no token"), "{stdout}");
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the token was printed"
    );
    let db_bytes = std::fs::read(&db).unwrap();
    assert!(
        !db_bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is in the database"
    );
}

/// Spend from the terminal: the user's prices from the config file (a mid-month change, a
/// discount) price the logs; `report spend` groups, as CSV and JSON, with unpriced usage apart;
/// `prices check` names the model without a price (exit 1); `prices list` shows the change.
#[test]
fn spend_reports_and_prices_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let claude = home.path().join("claude");
    let project = claude.join("projects/-w");
    std::fs::create_dir_all(&project).unwrap();
    let line = |i: usize, day: &str, model: &str| {
        serde_json::json!({
            "type": "assistant", "sessionId": "s1", "cwd": "/w",
            "timestamp": format!("{day}T10:00:{i:02}.000Z"), "requestId": format!("req_{i}"),
            "message": {"id": format!("msg_{i}"), "model": model, "role": "assistant",
                "content": [{"type": "text", "text": "ok"}],
                "usage": {"input_tokens": 1000, "output_tokens": 2000,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
        })
        .to_string()
    };
    let lines = [
        line(1, "2026-11-14", "claude-sonnet-4-5"),
        line(2, "2026-11-16", "claude-sonnet-4-5"),
        line(3, "2026-11-16", "gpt-5"),
        line(4, "2026-11-16", "mystery-model-9"),
    ];
    std::fs::write(project.join("s1.jsonl"), lines.join("\n") + "\n").unwrap();
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[prices.models.\"claude-sonnet-4-5\"]\nfrom = \"2026-11-15\"\ninput = 2e-6\n\
         output = 1e-5\ncache_write = 2.5e-6\ncache_read = 2e-7\n\
         [prices.discounts]\nopenai = 0.5\n",
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let out = run(&["ingest", "--claude-dir", claude.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // By hand: sonnet 1000×3e-6 + 2000×1.5e-5 = 0.033 on the 14th, 1000×2e-6 + 2000×1e-5 =
    // 0.022 on the 16th; gpt-5 (1000×1.25e-6 + 2000×1e-5) × 0.5 = 0.010625.
    let out = run(&["report", "spend", "--by", "model", "--csv"]);
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("key,cost_usd,share,unpriced_tokens,input,output,cache_write,cache_read,reasoning")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let row = |k: &str| {
        rows.iter()
            .find(|r| r[0] == k)
            .unwrap_or_else(|| panic!("{k}: {csv}"))
    };
    assert_eq!(row("claude-sonnet-4-5")[1], "0.055000");
    assert_eq!(row("gpt-5")[1], "0.010625");
    assert_eq!(
        (row("mystery-model-9")[1], row("mystery-model-9")[3]),
        ("0.000000", "3000")
    );
    assert_eq!(row("total")[1], "0.065625");

    let out = run(&[
        "report",
        "spend",
        "--by",
        "week",
        "--json",
        "--since",
        "2026-11-15",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["rows"][0]["key"], "2026-11-16",
        "the ISO week of the 16th starts that Monday"
    );
    assert!(
        (v["total"]["cost_usd"].as_f64().unwrap() - 0.032625).abs() < 1e-9,
        "{v}"
    );
    assert_eq!(v["unpriced_models"], serde_json::json!(["mystery-model-9"]));
    let out = run(&["report", "spend", "--by", "vendor"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("anthropic") && text.contains("unpriced (usage counted"),
        "{text}"
    );
    let out = run(&["report", "spend", "--since", "Nov 3"]);
    assert!(stderr_line(&out).contains("not a date"));

    // Concentration: anthropic 0.055 against openai 0.010625.
    let out = run(&[
        "report",
        "concentration",
        "--since",
        "2026-11-01",
        "--down",
        "openai",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (a, o) = (0.055 / 0.065625 * 100.0, 0.010625 / 0.065625 * 100.0);
    let hhi = v["concentration"]["hhi_spend"].as_f64().unwrap();
    assert!((hhi - (a * a + o * o)).abs() < 1e-6, "{v}");
    assert_eq!(v["concentration"]["over"], true, "default threshold 5,000");
    assert_eq!(v["down"]["vendor"], "openai");
    let out = run(&["report", "concentration"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("spend by vendor:"));

    let out = run(&["report", "value", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["merged_changes"], 0, "{v}");
    assert!(
        v["cost_per_merged_change"].is_null(),
        "no figure rather than a zero: {v}"
    );
    let out = run(&["report", "value", "--since", "yesterday"]);
    assert!(stderr_line(&out).contains("not a date"));

    let out = run(&["prices", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains(
            "mystery-model-9: no price — 3000 tokens in 1 requests, 2026-11-16 to 2026-11-16"
        ),
        "{text}"
    );
    let out = run(&["prices", "list"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let sonnet: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("claude-sonnet-4-5 "))
        .collect();
    assert_eq!(sonnet.len(), 2, "{text}");
    assert!(
        sonnet[1].contains("2026-11-15") && sonnet[1].contains("2.000"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("gpt-5 ") && l.trim_end().ends_with("50%")),
        "{text}"
    );
}

/// Budgets from the terminal: spend logged today passes every threshold of a small team
/// budget, each reported once however often the budget is set or the logs are read again.
#[test]
fn budgets_from_the_terminal_fire_each_threshold_once() {
    let home = tempfile::tempdir().unwrap();
    let claude = home.path().join("claude");
    let project = claude.join("projects/-w");
    std::fs::create_dir_all(&project).unwrap();
    let now = chrono::Utc::now();
    let line = serde_json::json!({
        "type": "assistant", "sessionId": "s1", "cwd": "/w",
        "timestamp": now.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(), "requestId": "req_1",
        "message": {"id": "msg_1", "model": "claude-sonnet-4-5", "role": "assistant",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 1000, "output_tokens": 2000,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    });
    std::fs::write(project.join("s1.jsonl"), format!("{line}\n")).unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let stdout = |o: &Output| String::from_utf8_lossy(&o.stdout).to_string();
    let ingest = ["ingest", "--claude-dir", claude.to_str().unwrap()];
    assert!(run(&ingest).status.success());
    // $0.033 spent; a $0.03 budget is past 50, 80 and 100 %.
    let text = stdout(&run(&["budget", "set", "team", "0.03"]));
    assert!(text.starts_with("budget team: $0.03 a month"), "{text}");
    for t in ["50 % reached", "80 % reached", "100 % reached"] {
        assert_eq!(text.matches(t).count(), 1, "{text}");
    }
    let again = stdout(&run(&["budget", "set", "team", "0.03"]));
    assert!(!again.contains("reached"), "{again}");
    assert!(run(&ingest).status.success());
    let list: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["budget", "list", "--json"]))).unwrap();
    assert_eq!(list[0]["fired"], serde_json::json!([50, 80, 100]));
    assert!((list[0]["spent_usd"].as_f64().unwrap() - 0.033).abs() < 1e-9);
    let out = run(&["budget", "set", "repo", "10"]);
    assert!(
        stderr_line(&out).contains("needs a target"),
        "{}",
        stderr_line(&out)
    );
    assert!(run(&["budget", "remove", "team"]).status.success());
    let out = run(&["budget", "remove", "team"]);
    assert!(stderr_line(&out).contains("no budget `team`"));
}

/// Vendor billing from the terminal against the local fakes: the admin key from the
/// environment, `billing sync` reads what was billed, a vendor without a key is named, a
/// refused key fails the command; `report reconcile` puts billed beside log-derived cost.
#[test]
fn billing_sync_and_reconcile_from_the_terminal() {
    use fakehub::billing::Billing;
    let home = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = Billing::new("sk-ant-admin-t", "unused");
    let today = chrono::Utc::now().date_naive();
    fake.add_anthropic(today, "claude-sonnet-4-5", "output_tokens", "250.5");
    let url = rt.block_on(fake.serve(0)).unwrap();
    let db = home.path().join("fd.db");
    let run = |key: &str, args: &[&str]| {
        flightdeck(home.path())
            .arg("--database-url")
            .arg(&db)
            .args(args)
            .env("ANTHROPIC_ADMIN_KEY", key)
            .env_remove("OPENAI_ADMIN_KEY")
            .env("FLIGHTDECK_ANTHROPIC_API", &url)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .output()
            .unwrap()
    };
    let out = run("sk-ant-admin-t", &["billing", "sync"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("anthropic:") && text.contains(": 1 lines, $"),
        "{text}"
    );
    assert!(text.contains("openai: no admin key"), "{text}");
    let out = run("sk-ant-admin-WRONG", &["billing", "sync"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("admin key was refused") && !err.contains("WRONG"),
        "{err}"
    );
    let day = today.to_string();
    let out = run(
        "x",
        &[
            "report",
            "reconcile",
            "--since",
            &day,
            "--until",
            &day,
            "--json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["vendor"], "anthropic");
    assert!(
        (rows[0]["billed_usd"].as_f64().unwrap() - 2.505).abs() < 1e-9,
        "{rows}"
    );
    assert!(
        (rows[0]["gap_usd"].as_f64().unwrap() - 2.505).abs() < 1e-9,
        "nothing in logs"
    );
}

/// Fixed costs from the terminal: a CSV with one bad row (named, skipped, exit 1), one added by
/// hand, listed, and counted by `report spend`.
#[test]
fn fixed_costs_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let csv = home.path().join("seats.csv");
    std::fs::write(
        &csv,
        "month,vendor,description,amount_usd\n2026-11,anthropic,\"Team, 5 seats\",150\n2026-11,openai,Business,abc\n",
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    // A team budget this month's seats will pass: the import fires its alerts at once.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let text = std::fs::read_to_string(&csv)
        .unwrap()
        .replace("2026-11", &month);
    std::fs::write(&csv, text).unwrap();
    assert!(run(&["budget", "set", "team", "200"]).status.success());
    let out = run(&["costs", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("budget team: 50 % reached") && !said.contains("80 %"),
        "{said}"
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("seats.csv:3: amount_usd `abc` is not a number"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 fixed costs ($150.00)"));
    let out = run(&[
        "costs",
        "add",
        "--vendor",
        "cursor",
        "--month",
        "2026-11",
        "--amount-usd",
        "40",
        "--description",
        "Pro seats",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "costs",
        "add",
        "--vendor",
        "cursor",
        "--month",
        "Nov",
        "--amount-usd",
        "40",
    ]);
    assert!(
        stderr_line(&out).contains("month `Nov` is not YYYY-MM"),
        "{}",
        stderr_line(&out)
    );
    let list = String::from_utf8_lossy(&run(&["costs", "list"]).stdout).to_string();
    assert!(
        list.contains("Team, 5 seats") && list.contains("Pro seats"),
        "{list}"
    );
    let out = run(&["report", "spend", "--by", "vendor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"]["cost_usd"], 190.0, "{v}");
}

/// Work items from the terminal with an agent from the config: added for a person, handed to
/// the agent, moved on; an agent not configured is refused by name; all in the audit log.
#[test]
fn work_items_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[agents.claude]\nvendor = \"anthropic\"\ncommand = [\"claude\", \"-p\", \"{prompt}\"]\nconcurrency = 2\n",
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let out = run(&[
        "work",
        "add",
        "Fix the flaky test",
        "--assignee",
        "person:bob",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = w["id"].as_str().unwrap().to_string();
    let out = run(&["work", "assign", &id, "agent:claude"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("agent:claude"));
    let out = run(&["work", "assign", &id, "agent:gpt"]);
    assert!(
        stderr_line(&out).contains("no agent `gpt` is configured"),
        "{}",
        stderr_line(&out)
    );
    assert!(run(&["work", "state", &id, "in_review"]).status.success());
    let out = run(&["work", "state", &id, "shipped"]);
    assert!(stderr_line(&out).contains("not a state"));
    let list: serde_json::Value =
        serde_json::from_slice(&run(&["work", "list", "--json"]).stdout).unwrap();
    assert_eq!(list["work_items"][0]["state"], "in_review");
    assert_eq!(list["work_items"][0]["assignee"], "agent:claude");
    assert_eq!(list["agents"][0]["name"], "claude");
    assert_eq!(list["agents"][0]["concurrency"], 2);
    let text = String::from_utf8_lossy(&run(&["audit", "verify"]).stdout).to_string();
    assert!(text.contains("ok: 3 entries"), "{text}");
}

const FAKE_AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/assets/fake-agent.sh");

/// `work dispatch` runs the agent in the foreground with its output shown; `work cancel` from
/// another process stops a hanging one's whole process tree, and the first process reports it.
#[test]
fn dispatch_and_cancel_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("web");
    new_repo(&repo);
    let claude = home.path().join("claude");
    std::fs::create_dir_all(claude.join("projects")).unwrap();
    let trace = home.path().join("trace");
    std::fs::write(&trace, "").unwrap();
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    let agent = |mode: &str| {
        format!(
            "vendor = \"anthropic\"\ncommand = [\"bash\", \"{FAKE_AGENT}\", \"{mode}\", \"{}\", \"{}\", \"{{prompt}}\"]\n",
            claude.display(),
            trace.display()
        )
    };
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[sources]\nrepos = [\"{}\"]\nclaude_dirs = [\"{}\"]\n\n[agents.fake]\n{}\n[agents.stuck]\n{}",
            repo.display(),
            claude.display(),
            agent("ok"),
            agent("hang")
        ),
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let add = |title: &str| {
        let out = run(&[
            "work",
            "add",
            title,
            "--repo",
            repo.to_str().unwrap(),
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        w["id"].as_str().unwrap().to_string()
    };

    let id = add("Add a health endpoint");
    let out = run(&["work", "dispatch", &id]);
    assert!(stderr_line(&out).contains("not assigned to an agent"));
    let out = run(&["work", "dispatch", &id, "--agent", "fake"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("fake agent: committed"), "{stdout}");
    assert!(stdout.contains("succeeded"), "{stdout}");
    let list: serde_json::Value =
        serde_json::from_slice(&run(&["work", "list", "--json"]).stdout).unwrap();
    assert_eq!(list["work_items"][0]["state"], "in_review");
    assert_eq!(list["dispatches"][0]["state"], "succeeded");
    let links = list["work_items"][0]["links"].to_string();
    assert!(
        links.contains("\"run\"") && links.contains("\"change\""),
        "{links}"
    );

    // Request changes and send back, from the terminal: the decision is recorded and the agent
    // runs again on the same branch, here, with its output shown.
    let change = list["work_items"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "change")
        .map(|l| l["target"].as_str().unwrap().to_string())
        .unwrap();
    let branch = list["dispatches"][0]["branch"]
        .as_str()
        .unwrap()
        .to_string();
    let head = |b: &str| {
        let r = git2::Repository::open(&repo).unwrap();
        let id = r.revparse_single(b).unwrap().id();
        id
    };
    let before = head(&branch);
    let out = run(&[
        "request-changes",
        &change,
        "--comment",
        "Add a test for the endpoint",
        "--send-back",
        "nobody",
    ]);
    assert!(
        stderr_line(&out).contains("nobody"),
        "an unknown agent is named"
    );
    let out = run(&[
        "request-changes",
        &change,
        "--comment",
        "Add a test for the endpoint",
        "--send-back",
        "fake",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("request_changes: "), "{stdout}");
    assert!(stdout.contains("fake agent: committed"), "{stdout}");
    assert_ne!(
        head(&branch),
        before,
        "the agent's new commit is on {branch}"
    );
    let outbox: serde_json::Value =
        serde_json::from_slice(&run(&["outbox", "--json"]).stdout).unwrap();
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "request_changes"),
        "{outbox}"
    );

    // A hanging agent, cancelled from a second process.
    let id = add("Hang");
    let mut hanging = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["work", "dispatch", &id, "--agent", "stuck"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = hanging.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let first = lines.next().unwrap().unwrap();
    let dispatch = first.split(':').next().unwrap().to_string();
    assert!(dispatch.starts_with("D-"), "{first}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let child: u32 = loop {
        let text = std::fs::read_to_string(&trace).unwrap();
        if let Some(l) = text.lines().find(|l| l.starts_with("child ")) {
            break l[6..].trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the hanging agent never started");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = run(&["work", "cancel", &dispatch]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cancelled"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = hanging.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("cancelled by Alice Lead")),
        "{rest:?}"
    );
    let alive = std::fs::read_to_string(format!("/proc/{child}/stat"))
        .map(|s| !s.contains(") Z"))
        .unwrap_or(false);
    assert!(!alive, "the agent's child {child} was left running");
    let out = run(&["work", "cancel", &dispatch]);
    assert!(stderr_line(&out).contains("already ended"));
}

/// `deploy record` from a pipeline's point of view, `deploy show` with what it shipped, and
/// `report dora` in its formats; bad input named.
#[test]
fn deploys_and_dora_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("api");
    let repo = new_repo(&path);
    let first = repo
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();
    commit_on(&repo, "main", "b.txt", "Second");
    // An agent's branch on top: the deploy below ships it.
    commit_on(&repo, "claude/limits", "c.txt", "Add limits");
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!("[sources]\nrepos = [\"{}\"]\n", path.display()),
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    ok(&run(&[
        "deploy",
        "record",
        "--env",
        "production",
        "--sha",
        &first[..10],
        "--status",
        "success",
        "--at",
        "2026-11-20T10:00:00Z",
        "--id",
        "d1",
    ]));
    let text = ok(&run(&[
        "deploy",
        "record",
        "--env",
        "production",
        "--sha",
        "claude/limits",
        "--status",
        "failure",
        "--at",
        "1795259000",
        "--id",
        "d2",
    ]));
    assert!(text.contains("d2") && text.contains("failure"), "{text}");
    let shown = ok(&run(&["deploy", "show", "d2"]));
    assert!(
        shown.contains("since d1") && shown.contains("Second"),
        "{shown}"
    );
    // The agent's change it shipped: who wrote it, reviews, checks, cost and the verdict (the
    // built-in policy wants a human approval of agent work).
    let change = shown
        .lines()
        .find(|l| l.contains("change local:") && l.contains("claude/limits"))
        .unwrap_or_else(|| panic!("no change line: {shown}"));
    assert!(
        change.contains("by agent")
            && change.contains("reviews: none")
            && change.contains("checks: 0 of 0 failing")
            && change.contains("agent cost $0.00")
            && change.contains("policy: blocked (0 of 1 human approvals"),
        "{change}"
    );
    assert!(
        !shown.contains("Initial commit"),
        "shipped by d1 already: {shown}"
    );

    // The DORA keys of the week, in a format.
    let week_as = |format: &str| {
        ok(&run(&[
            "report",
            "dora",
            "--since",
            "2026-11-19",
            "--until",
            "2026-11-25",
            format,
        ]))
    };
    let week = || -> serde_json::Value { serde_json::from_str(&week_as("--json")).unwrap() };
    let d = week();
    assert_eq!(d["deploys"], 1);
    assert_eq!(d["failed_deploys"], 1);
    assert_eq!(d["change_failure_rate"], 0.5);
    let md = week_as("--md");
    assert!(md.contains("| change failure rate | 50.0 % |"), "{md}");

    // A pager's incident after d1 (d2 failed by itself): recorded, listed, then resolved by
    // its id; d1 now counts as failed too.
    let text = ok(&run(&[
        "incident",
        "record",
        "--title",
        "Checkout 5xx",
        "--opened",
        "2026-11-20T11:00:00Z",
        "--id",
        "PD-3",
    ]));
    assert!(text.contains("ext:PD-3") && text.contains("open"), "{text}");
    ok(&run(&[
        "incident",
        "record",
        "--title",
        "Checkout 5xx",
        "--closed",
        "2026-11-20T11:40:00Z",
        "--id",
        "PD-3",
    ]));
    let listed = ok(&run(&["incident", "list"]));
    assert!(
        listed.contains("ext:PD-3") && listed.contains("closed 2026-11-20 11:40"),
        "{listed}"
    );
    let d = week();
    assert_eq!(
        (d["failed_deploys"].as_i64(), d["incident_issues"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(d["time_to_restore"]["median_secs"], 40 * 60);
    let out = run(&["incident", "record", "--title", "x", "--opened", "soon"]);
    assert!(stderr_line(&out).contains("--opened `soon`"));

    let out = run(&[
        "deploy",
        "record",
        "--env",
        "production",
        "--sha",
        "main",
        "--status",
        "success",
        "--at",
        "yesterday",
    ]);
    assert!(stderr_line(&out).contains("--at `yesterday`"));
    let out = run(&[
        "deploy",
        "record",
        "--env",
        "production",
        "--sha",
        "deadbeef",
        "--status",
        "success",
    ]);
    assert!(stderr_line(&out).contains("`deadbeef` is not a commit"));
    let out = run(&["report", "dora", "--since", "2026-13-01"]);
    assert!(stderr_line(&out).contains("--since `2026-13-01`"));
    let v: serde_json::Value =
        serde_json::from_str(&ok(&run(&["report", "velocity", "--json"]))).unwrap();
    assert_eq!(v["split"][0]["kind"], "agent");
    assert_eq!(v["split"][1]["kind"], "human");
    let phases: Vec<&str> = v["cycle"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(phases, ["coding", "pickup", "review", "deploy", "merge"]);
    let md = ok(&run(&["report", "velocity", "--md"]));
    assert!(md.starts_with("| who | opened |"), "{md}");
    assert!(
        md.contains("| phase | changes | all | agents | people |"),
        "{md}"
    );

    // The weekly page: the week's DORA numbers and three inline charts, no outside files.
    let page = home.path().join("week.html");
    let out = ok(&run(&[
        "report",
        "weekly",
        "--until",
        "2026-11-24",
        "--out",
        page.to_str().unwrap(),
    ]));
    assert!(out.contains("week.html"), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("2026-11-18 to 2026-11-24"), "{html}");
    assert!(html.contains("data-section=\"dora\""));
    // Both deploys failed: d2 by its status, d1 by the pager's incident.
    assert!(html.contains("Change failure rate<b>100 %</b>"), "{html}");
    assert!(html.contains("incidents reported: 1"), "{html}");
    assert_eq!(html.matches("<svg").count(), 3, "{html}");
    assert!(!html.contains("src=\"http") && !html.contains("<link"));
    let out = run(&["report", "weekly", "--out", "/nonexistent/dir/w.html"]);
    assert!(stderr_line(&out).contains("/nonexistent/dir/w.html"));
    let out = run(&[
        "report",
        "velocity",
        "--since",
        "2026-11-20",
        "--until",
        "2026-11-19",
    ]);
    assert!(stderr_line(&out).contains("--since must come before --until"));
}
