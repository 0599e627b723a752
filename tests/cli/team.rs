//! Team mode end to end: three `serve` instances (own data dirs, own clones of the same three
//! repos, own agent logs, acting as three machines) on one PostgreSQL count what one instance
//! reading everything counts, nothing twice; a decision on one reaches the others' open UIs
//! within a second.

use super::*;
use std::io::Write;

const REPOS: [&str; 3] = ["api", "web", "billing"];
const MAIN_COMMITS: usize = 5;

/// The PostgreSQL the test suite uses (`FLIGHTDECK_TEST_PG_URL`), with a fresh database on it.
fn fresh_pg(rt: &tokio::runtime::Runtime) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let admin = std::env::var("FLIGHTDECK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    // Tests of one process start in the same second: a counter keeps their databases apart.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("fd_team_{}_{}_{n}", std::process::id(), now());
    rt.block_on(async {
        let mut conn = sqlx::AnyConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let base = admin
        .rsplit_once('/')
        .map_or(admin.clone(), |(b, _)| b.to_string());
    format!("{base}/{name}")
}

/// A clone of `origin` at `path` whose `origin` remote reads `url` (as the team's forge names
/// it), as a person's machine would have it.
fn clone_as(origin: &std::path::Path, path: &std::path::Path, url: &str) {
    let parent = path.parent().unwrap_or(path);
    std::fs::create_dir_all(parent).unwrap();
    git(
        parent,
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
    );
    git(path, &["remote", "set-url", "origin", url]);
}

/// Rows that must match: repos, commits, change requests, runs, and the spend they add up to.
fn totals(rt: &tokio::runtime::Runtime, url: &str) -> (i64, i64, i64, i64, i64) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    rt.block_on(async {
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        let mut out = [0i64; 5];
        for (slot, q) in out.iter_mut().zip([
            "SELECT COUNT(*) FROM repos",
            "SELECT COUNT(*) FROM commits",
            "SELECT COUNT(*) FROM change_requests",
            "SELECT COUNT(*) FROM agent_runs",
            // Micro-dollars: equal sums, not equal floats.
            "SELECT CAST(ROUND(SUM(cost_usd) * 1000000) AS BIGINT) FROM agent_runs",
        ]) {
            *slot = sqlx::query_scalar::<_, i64>(q)
                .fetch_one(&mut c)
                .await
                .unwrap();
        }
        (out[0], out[1], out[2], out[3], out[4])
    })
}

/// One Claude session of `n` requests on `branch` in `cwd`.
fn claude_log(dir: &std::path::Path, cwd: &std::path::Path, session: &str, branch: &str, n: usize) {
    let project = dir.join("projects").join(session);
    std::fs::create_dir_all(&project).unwrap();
    let lines: Vec<String> = (0..n)
        .map(|i| {
            serde_json::json!({
                "type": "assistant", "sessionId": session, "cwd": cwd.display().to_string(),
                "gitBranch": branch,
                "timestamp": format!("2026-11-20T10:{i:02}:00.000Z"),
                "requestId": format!("req_{session}_{i}"),
                "message": {"id": format!("msg_{session}_{i}"), "model": "claude-sonnet-4-5",
                    "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                    "usage": {"input_tokens": 2000, "output_tokens": 500 * (i + 1),
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
            })
            .to_string()
        })
        .collect();
    std::fs::write(
        project.join(format!("{session}.jsonl")),
        lines.join("\n") + "\n",
    )
    .unwrap();
}

/// A reader of a server's event stream, on its own thread: the time each event arrived.
fn listen(client: &Client) -> std::sync::mpsc::Receiver<(Instant, String)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", client.port)).unwrap();
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
        client.port, client.cookie
    )
    .unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(s).lines() {
            let Ok(line) = line else { return };
            if line.starts_with("data:") && tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn three_instances_on_one_postgres_count_once_and_see_each_other_live() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = fresh_pg(&rt);
    let root = tempfile::tempdir().unwrap();
    // The team's three repos, as its forge holds them.
    for name in REPOS {
        let seed = root.path().join("seed").join(name);
        let r = new_repo(&seed);
        for i in 1..MAIN_COMMITS {
            commit_on(&r, "main", &format!("f{i}.txt"), &format!("{name} {i}"));
        }
        git(
            root.path(),
            &[
                "clone",
                "-q",
                "--bare",
                seed.to_str().unwrap(),
                &format!("origin/{name}.git"),
            ],
        );
    }
    // Each person's machine: their clones, an agent branch in each, their agent's logs.
    let homes: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut clones = Vec::new();
    for (m, home) in homes.iter().enumerate() {
        for name in REPOS {
            let path = home.path().join("src").join(name);
            let origin = root.path().join("origin").join(format!("{name}.git"));
            clone_as(
                &origin,
                &path,
                &format!("https://git.acme.test/acme/{name}.git"),
            );
            let repo = git2::Repository::open(&path).unwrap();
            let branch = format!("claude/task-{m}-{name}");
            agent_commit(&repo, &branch, &format!("m{m}.rs"), "agent work");
            claude_log(
                &home.path().join("claude"),
                &path.canonicalize().unwrap(),
                &format!("s{m}-{name}"),
                &branch,
                3 + m,
            );
            clones.push(path);
        }
        std::fs::create_dir_all(home.path().join("no-codex")).unwrap();
    }
    let serve = |m: usize| {
        let home = homes[m].path();
        let mut cmd = flightdeck(home);
        cmd.env("FLIGHTDECK_MACHINE", format!("laptop-{m}"))
            .args(["serve", "--port", "0", "--database-url", &url])
            .arg("--claude-dir")
            .arg(home.join("claude"))
            .arg("--codex-home")
            .arg(home.join("no-codex"));
        for name in REPOS {
            cmd.arg("--repo").arg(home.join("src").join(name));
        }
        spawn_listening(cmd)
    };
    let instances: Vec<(Server, Client)> = (0..3).map(serve).collect();
    // Each has read its machine once all three show every run.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let runs: Vec<i64> = instances
            .iter()
            .map(|(_, c)| {
                c.get("/api/health")
                    .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
                    .and_then(|h| h["counts"]["agent_runs"].as_i64())
                    .unwrap_or(0)
            })
            .collect();
        if runs.iter().all(|&r| r == 9) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "runs seen by each instance: {runs:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // One instance reading every clone and every log, alone, on its own database.
    let reference = root.path().join("reference.db");
    let one = homes[0].path();
    let mut cmd = flightdeck(one);
    cmd.env("FLIGHTDECK_MACHINE", "reference")
        .args(["ingest", "--database-url"])
        .arg(format!("sqlite://{}", reference.display()))
        .arg("--codex-home")
        .arg(one.join("no-codex"));
    for c in &clones {
        cmd.arg("--repo").arg(c);
    }
    for h in &homes {
        cmd.arg("--claude-dir").arg(h.path().join("claude"));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let shared = totals(&rt, &url);
    let alone = totals(&rt, &format!("sqlite://{}", reference.display()));
    assert_eq!(
        shared, alone,
        "(repos, commits, changes, runs, micro-$) shared vs one instance"
    );
    // Nothing twice: three repos; each main's commits once, plus one agent commit per clone;
    // one change per agent branch; one run per session.
    assert_eq!(
        (shared.0, shared.1, shared.2, shared.3),
        (3, (3 * (MAIN_COMMITS + 3)) as i64, 9, 9)
    );
    assert!(shared.4 > 0);

    // A decision on the first instance reaches the other two's open UIs within a second.
    let streams: Vec<_> = instances[1..].iter().map(|(_, c)| listen(c)).collect();
    std::thread::sleep(Duration::from_millis(300));
    for rx in &streams {
        while rx.try_recv().is_ok() {}
    }
    let first = &instances[0].1;
    let change = "local:git.acme.test/acme/api:claude/task-2-api";
    let sent = Instant::now();
    let (status, _, body) = raw_request(
        first.port,
        "POST",
        &format!(
            "/api/changes/{}/actions",
            change.replace('/', "%2F").replace(':', "%3A")
        ),
        r#"{"kind": "comment", "comment": "seen from laptop 0"}"#,
        &[
            ("Cookie", first.cookie.clone()),
            ("Origin", format!("http://127.0.0.1:{}", first.port)),
        ],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    for (i, rx) in streams.iter().enumerate() {
        let took = loop {
            let (at, line) = rx
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("instance {} heard nothing", i + 1));
            if line.contains("\"actions\"") {
                break at.duration_since(sent);
            }
        };
        assert!(
            took < Duration::from_secs(1),
            "instance {}: {took:?}",
            i + 1
        );
    }
    // And what it shows is the decision, on that change, by the person who took it.
    let (_, audit) = instances[2].1.get("/api/audit").unwrap();
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    let entry = &audit["entries"][0];
    assert_eq!(
        (&entry["actor"], &entry["action"], &entry["target"]),
        (
            &serde_json::json!("Alice Lead"),
            &serde_json::json!("comment applied"),
            &serde_json::json!(change)
        ),
        "{audit:#}"
    );
    drop(instances);
    drop_pg(&rt, &url);
}

/// Drops the test's database (its servers stopped first).
fn drop_pg(rt: &tokio::runtime::Runtime, url: &str) {
    use sqlx::Connection;
    let Some((base, name)) = url.rsplit_once('/') else {
        return;
    };
    rt.block_on(async {
        if let Ok(mut c) = sqlx::AnyConnection::connect(&format!("{base}/postgres")).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c)
                .await;
        }
    });
}

/// Two leads press Merge on the same change at the same moment, from two processes on one
/// PostgreSQL, 100 times over: each time exactly one merge goes through, and the other lead is
/// told who merged it.
#[test]
fn two_leads_merging_from_two_processes_get_one_merge() {
    const ROUNDS: usize = 100;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = fresh_pg(&rt);
    let (alice, bob) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let path = alice.path().join("src/app");
    let repo = new_repo(&path);
    // A hundred agent branches, each adding its own file: each merges cleanly after the others.
    for i in 0..ROUNDS {
        agent_commit(
            &repo,
            &format!("claude/t{i:03}"),
            &format!("t{i}.rs"),
            "// work\n",
        );
    }
    let lead = |home: &std::path::Path, name: &str| {
        let mut c = flightdeck(home);
        c.env("FLIGHTDECK_MACHINE", "desk")
            .env("FLIGHTDECK_USER", name)
            .args(["--database-url", &url]);
        c
    };
    std::fs::create_dir_all(alice.path().join("none")).unwrap();
    let mut ingest = lead(alice.path(), "Alice Lead");
    ingest
        .args(["ingest", "--codex-home"])
        .arg(alice.path().join("none"));
    ingest.arg("--claude-dir").arg(alice.path().join("none"));
    ingest.arg("--repo").arg(&path);
    ok(&ingest.output().unwrap());

    let mut winners = std::collections::BTreeMap::<&str, usize>::new();
    for i in 0..ROUNDS {
        let branch = format!("claude/t{i:03}");
        let mut both: Vec<(&str, std::process::Child)> =
            [("Alice Lead", alice.path()), ("Bob Lead", bob.path())]
                .into_iter()
                .map(|(name, home)| {
                    let mut c = lead(home, name);
                    c.args(["merge", &branch, "--override", "racing on purpose"])
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped());
                    (name, c.spawn().unwrap())
                })
                .collect();
        let outs: Vec<(&str, Output)> = both
            .drain(..)
            .map(|(name, child)| (name, child.wait_with_output().unwrap()))
            .collect();
        let won: Vec<&str> = outs
            .iter()
            .filter(|(_, o)| o.status.success())
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(won.len(), 1, "round {i}: {outs:?}");
        let winner = won[0];
        *winners.entry(winner).or_default() += 1;
        let (_, lost) = outs.iter().find(|(n, _)| *n != winner).unwrap();
        let said = String::from_utf8_lossy(&lost.stderr);
        assert!(
            said.contains(&format!("by {winner}")),
            "round {i}: the other lead is told who merged it: {said}"
        );
    }
    // Every branch is on main, each merged once.
    let main = repo
        .revparse_single("refs/heads/main")
        .unwrap()
        .peel_to_tree()
        .unwrap();
    for i in 0..ROUNDS {
        assert!(
            main.get_name(&format!("t{i}.rs")).is_some(),
            "t{i}.rs on main"
        );
    }
    let merges: i64 = rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM actions WHERE kind = 'merge' AND state = 'applied'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap()
    });
    assert_eq!(merges, ROUNDS as i64, "winners: {winners:?}");
    drop_pg(&rt, &url);
}

/// Four machines (own homes, own clones, one PostgreSQL) each start a dispatch to the same
/// agent at the same moment, round after round: the agent's limit of two holds across them,
/// read from the agents' own start and end times, and every dispatch still runs to its end.
#[test]
fn four_machines_dispatching_keep_the_agents_limit() {
    const MACHINES: usize = 4;
    const ROUNDS: usize = 3;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = fresh_pg(&rt);
    let root = tempfile::tempdir().unwrap();
    let seed = root.path().join("seed");
    new_repo(&seed);
    let origin = root.path().join("origin.git");
    git(
        root.path(),
        &[
            "clone",
            "-q",
            "--bare",
            seed.to_str().unwrap(),
            origin.to_str().unwrap(),
        ],
    );
    let trace = root.path().join("trace");
    std::fs::write(&trace, "").unwrap();
    let homes: Vec<tempfile::TempDir> = (0..MACHINES)
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let machine = |m: usize| {
        let mut c = flightdeck(homes[m].path());
        c.env("FLIGHTDECK_MACHINE", format!("laptop-{m}"))
            .args(["--database-url", &url]);
        c
    };
    let clone = |m: usize| homes[m].path().join("src/app");
    for (m, home) in homes.iter().enumerate() {
        let path = clone(m);
        clone_as(&origin, &path, "https://git.acme.test/acme/app.git");
        let config = home.path().join("config/flightdeck");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("config.toml"),
            format!(
                "[agents.fake]\nvendor = \"anthropic\"\nconcurrency = 2\ncommand = [\"bash\", \"{}\", \"slow\", \"{}\", \"{}\", \"{{prompt}}\"]\n",
                fake_agent(),
                home.path().join("claude").display(),
                trace.display()
            ),
        )
        .unwrap();
        let none = home.path().join("none");
        std::fs::create_dir_all(&none).unwrap();
        let mut ingest = machine(m);
        ingest
            .args(["ingest", "--repo"])
            .arg(&path)
            .arg("--claude-dir")
            .arg(&none)
            .arg("--codex-home")
            .arg(&none);
        ok(&ingest.output().unwrap());
    }
    for round in 0..ROUNDS {
        let items: Vec<String> = (0..MACHINES)
            .map(|m| {
                let mut add = machine(0);
                add.args(["work", "add", &format!("Task {round}.{m}"), "--repo"])
                    .arg(clone(0))
                    .arg("--json");
                let w: serde_json::Value =
                    serde_json::from_str(&ok(&add.output().unwrap())).unwrap();
                w["id"].as_str().unwrap().to_string()
            })
            .collect();
        let racers: Vec<std::process::Child> = items
            .iter()
            .enumerate()
            .map(|(m, id)| {
                machine(m)
                    .args(["work", "dispatch", id, "--agent", "fake"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in racers {
            let out = child.wait_with_output().unwrap();
            let said = ok(&out);
            assert!(said.contains("succeeded"), "round {round}: {said}");
        }
    }
    // From the agents' own trace: never more than two at once across the four machines, and
    // two did run at once.
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut events: Vec<(f64, i32)> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let delta = match w.next()? {
                "start" => 1,
                "end" => -1,
                _ => return None,
            };
            Some((w.nth(1)?.parse().ok()?, delta))
        })
        .collect();
    assert_eq!(events.len(), 2 * MACHINES * ROUNDS, "{text}");
    // An end sorts before a start at the same instant: the slot was free.
    events.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (mut at_once, mut most) = (0, 0);
    for (_, delta) in events {
        at_once += delta;
        most = most.max(at_once);
    }
    assert_eq!(most, 2, "{text}");
    drop_pg(&rt, &url);
}

/// `serve` and three `ingest`s started together on one database: every ingest succeeds, the
/// server keeps serving, and the store holds each thing once. On one SQLite file (each process
/// waits for the others' writes) and on PostgreSQL.
fn serve_and_three_ingests_share_one_database(url: &str, home: &std::path::Path) {
    let repo_path = home.join("app");
    let repo = new_repo(&repo_path);
    for i in 0..40 {
        commit_on(&repo, "main", &format!("f{i}.txt"), &format!("Change {i}"));
    }
    let corpus = home.join("claude");
    super::ingest::write_corpus(&corpus, 12, 400);
    let none = home.join("none");
    std::fs::create_dir_all(&none).unwrap();
    let with_sources = |c: &mut Command, db: &str| {
        c.args(["--database-url", db])
            .arg("--repo")
            .arg(&repo_path)
            .arg("--claude-dir")
            .arg(&corpus)
            .arg("--codex-home")
            .arg(&none);
    };
    let mut serve = flightdeck(home);
    serve.args(["serve", "--port", "0", "--rescan-secs", "1"]);
    with_sources(&mut serve, url);
    let ingests: Vec<std::process::Child> = (0..3)
        .map(|_| {
            let mut c = flightdeck(home);
            c.arg("ingest");
            with_sources(&mut c, url);
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (_server, client) = spawn_listening(serve);
    for child in ingests {
        ok(&child.wait_with_output().unwrap());
    }
    // The server is still up, and its rescans (every second, racing the ingests) found
    // nothing wrong with the store.
    std::thread::sleep(Duration::from_secs(2));
    let (status, body) = client.get("/api/health").expect("serve died");
    assert_eq!(status, 200, "{body}");
    // Each thing once: the same reports as one ingest alone into a new database.
    let clean = format!("sqlite://{}", home.join("clean.db").display());
    let mut alone = flightdeck(home);
    alone.arg("ingest");
    with_sources(&mut alone, &clean);
    ok(&alone.output().unwrap());
    for report in [
        &["report", "agents", "--json"][..],
        &["report", "usage", "--by", "day", "--json"],
    ] {
        let of = |db: &str| {
            ok(&flightdeck(home)
                .args(["--database-url", db])
                .args(report)
                .output()
                .unwrap())
        };
        // Sums of costs may differ in the last bits between databases: compare rounded.
        let rounded = |text: String| round_floats(serde_json::from_str(&text).unwrap());
        assert_eq!(rounded(of(url)), rounded(of(&clean)), "{report:?}");
    }
}

/// `v` with every non-integer number rounded to 9 decimals.
fn round_floats(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            serde_json::json!((n.as_f64().unwrap_or(0.0) * 1e9).round() / 1e9)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(round_floats).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, round_floats(v))).collect())
        }
        other => other,
    }
}

#[test]
fn serve_and_three_ingests_share_one_sqlite_file() {
    let home = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", home.path().join("fd.db").display());
    serve_and_three_ingests_share_one_database(&url, home.path());
}

#[test]
fn serve_and_three_ingests_share_one_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = fresh_pg(&rt);
    serve_and_three_ingests_share_one_database(&url, home.path());
    drop_pg(&rt, &url);
}
