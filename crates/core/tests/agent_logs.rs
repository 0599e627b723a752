//! Agent-log ingest against the example corpus in `tests/fixtures` (copied from
//! shared/formats/examples, with the results ccusage's rules give for it), and incremental
//! tailing of logs written while the ingest runs. Expected values are read from the fixtures'
//! expected files, not restated here.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::model::{RunEventKind, Tokens};
use flightdeck_core::views;
use serde_json::Value;
use support::{both, TestDb};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn claude_sources(dir: &Path) -> Sources {
    Sources {
        claude_dirs: vec![dir.to_path_buf()],
        ..Default::default()
    }
}

fn codex_sources(home: &Path) -> Sources {
    Sources {
        codex_homes: vec![home.to_path_buf()],
        ..Default::default()
    }
}

/// Tokens and cost over every run.
async fn run_totals(db: &TestDb) -> (Tokens, f64) {
    let mut t = Tokens::default();
    let mut cost = 0.0;
    for r in db.store.agent_runs().await.unwrap() {
        t.add(&r.tokens);
        cost += r.cost_usd;
    }
    (t, cost)
}

const NOW: i64 = 1_790_000_000;

async fn claude_totals_match_the_ccusage_rules(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("claude-code"), dir.path());
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("expected-ccusage-rules.json")).unwrap(),
    )
    .unwrap();
    let report = ingest::run(&db.store, &claude_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    let malformed = expected["malformedSkipped"].as_array().unwrap();
    assert_eq!(
        report.skipped_lines,
        malformed.len() as i64,
        "{:?}",
        report.problems
    );
    let first = &malformed[0];
    let want = format!("{}:{}:", first["file"].as_str().unwrap(), first["line"]);
    assert!(
        report.problems.iter().any(|p| p.contains(&want)),
        "{want} in {:?}",
        report.problems
    );

    let totals = &expected["totals"];
    let (t, cost) = run_totals(&db).await;
    assert_eq!(t.input, totals["inputTokens"].as_i64().unwrap());
    assert_eq!(t.output, totals["outputTokens"].as_i64().unwrap());
    assert_eq!(
        t.cache_write,
        totals["cacheCreationTokens"].as_i64().unwrap()
    );
    assert_eq!(t.cache_read, totals["cacheReadTokens"].as_i64().unwrap());
    let want_cost = totals["costUSD_calculate"].as_f64().unwrap();
    assert!(
        (cost - want_cost).abs() < 1e-6,
        "cost {cost} vs {want_cost}"
    );
    // ccusage's default "auto" mode: the logged costUSD where old versions wrote one.
    let auto: f64 = sqlx::query_scalar(
        "SELECT CAST(SUM(COALESCE(logged_cost_usd, cost_usd)) AS DOUBLE PRECISION) FROM usage_entries
         WHERE canonical = 1",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    let want_auto = totals["costUSD_auto"].as_f64().unwrap();
    assert!(
        (auto - want_auto).abs() < 1e-6,
        "auto cost {auto} vs {want_auto}"
    );
    // Spend by day/model carries the same total.
    let spend = views::spend(&db.store).await.unwrap();
    assert!((spend.total_usd - want_cost).abs() < 1e-6);

    // Per kept entry's model, the tokens agree too (fast requests are their own model).
    let mut by_model = std::collections::BTreeMap::<String, i64>::new();
    for e in expected["keptEntries"].as_array().unwrap() {
        let model = e["model"].as_str().unwrap_or("").to_string();
        *by_model.entry(model).or_default() += e["outputTokens"].as_i64().unwrap();
    }
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT model, CAST(SUM(output_tokens) AS BIGINT) FROM usage_entries WHERE canonical = 1
         GROUP BY model ORDER BY model",
    )
    .fetch_all(db.store.pool())
    .await
    .unwrap();
    assert_eq!(
        rows.into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
        by_model
    );

    // Sessions: the main one with its subagent file, the resumed one, the legacy one.
    let runs = db.store.agent_runs().await.unwrap();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let main = runs
        .iter()
        .find(|r| r.session_id.starts_with("5b2f0c1e"))
        .unwrap();
    assert_eq!(main.cwd, "/home/dev/acme/widgets");
    assert_eq!(main.branch.as_deref(), Some("feat/retry-merge"));
    assert!(main.models.len() >= 3, "{:?}", main.models);
    assert_eq!(main.skipped_lines, 1);
    assert!(main.files_touched >= 1);

    // Idempotent: a second pass reads nothing and changes nothing.
    let again = ingest::run(&db.store, &claude_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    assert_eq!((again.files, again.lines, again.runs), (0, 0, 0));
    assert_eq!(run_totals(&db).await, (t, cost));
    db.finish().await;
}
both!(claude_totals_match_the_ccusage_rules);

async fn codex_deltas_come_from_cumulative_totals(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("codex"), dir.path());
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("expected.json")).unwrap())
            .unwrap();
    let report = ingest::run(&db.store, &codex_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    let modern = &expected["rollout-2026-03-14T10-12-05"];
    assert_eq!(
        report.skipped_lines,
        modern["malformed_lines"].as_array().unwrap().len() as i64
    );
    // Our choice (see sources/codex.rs): differences of the cumulative total, so the re-emitted
    // last event adds nothing.
    let mut want = std::collections::BTreeMap::<String, Tokens>::new();
    let events = modern["events_using_total_diff"]
        .as_array()
        .unwrap()
        .iter()
        .chain(
            expected["rollout-2025-09-02T18-00-00 (legacy)"]["events"]
                .as_array()
                .unwrap(),
        );
    for e in events {
        let g = |k: &str| e[k].as_i64().unwrap();
        want.entry(e["model"].as_str().unwrap().to_string())
            .or_default()
            .add(&Tokens {
                input: g("input_tokens") - g("cached_input_tokens"),
                output: g("output_tokens"),
                cache_write: 0,
                cache_read: g("cached_input_tokens"),
                reasoning: g("reasoning_output_tokens"),
            });
    }
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT model, CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT),
           CAST(SUM(cache_read_tokens) AS BIGINT), CAST(SUM(reasoning_tokens) AS BIGINT)
         FROM usage_entries WHERE canonical = 1 GROUP BY model ORDER BY model",
    )
    .fetch_all(db.store.pool())
    .await
    .unwrap();
    let got: std::collections::BTreeMap<String, Tokens> = rows
        .into_iter()
        .map(|(m, i, o, c, r)| {
            (
                m,
                Tokens {
                    input: i,
                    output: o,
                    cache_write: 0,
                    cache_read: c,
                    reasoning: r,
                },
            )
        })
        .collect();
    assert_eq!(got, want);
    // The modern session's run sums to the file's final cumulative counter.
    let fin = &modern["final_total_token_usage"];
    let run = db
        .store
        .agent_runs()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.session_id == "0199e5a2-6c1d-7b3e-9f40-2a8b1c7d5e90")
        .unwrap();
    assert_eq!(
        run.tokens.input + run.tokens.cache_read,
        fin["input_tokens"].as_i64().unwrap()
    );
    assert_eq!(run.tokens.output, fin["output_tokens"].as_i64().unwrap());
    // Most output was written by gpt-5.2-codex; both models are listed.
    assert_eq!(run.model, "gpt-5.2-codex");
    assert_eq!(run.models, ["gpt-5.2-codex", "gpt-5.3-codex"]);
    assert_eq!(run.branch.as_deref(), Some("feat/retry-merge"));

    // The same rollout archived too (ccusage reads both folders) counts once.
    let archived = dir.path().join("archived_sessions");
    std::fs::create_dir_all(&archived).unwrap();
    let f = "2026/03/14/rollout-2026-03-14T10-12-05-0199e5a2-6c1d-7b3e-9f40-2a8b1c7d5e90.jsonl";
    std::fs::copy(
        dir.path().join("sessions").join(f),
        archived.join(Path::new(f).file_name().unwrap()),
    )
    .unwrap();
    let before = run_totals(&db).await;
    ingest::run(&db.store, &codex_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    assert_eq!(run_totals(&db).await, before);
    db.finish().await;
}
both!(codex_deltas_come_from_cumulative_totals);

async fn resumed_session_copies_count_once(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("claude-code"), dir.path());
    ingest::run(&db.store, &claude_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    let before = run_totals(&db).await;
    // A fork copies a whole session into a new file under another project.
    let src = dir
        .path()
        .join("projects/-home-dev-acme-widgets/5b2f0c1e-7d4a-4c1b-9e2a-3f6d8a1b2c40.jsonl");
    let fork = dir.path().join("projects/-home-dev-fork");
    std::fs::create_dir_all(&fork).unwrap();
    std::fs::copy(
        &src,
        fork.join("aaaaaaaa-0000-4000-8000-000000000000.jsonl"),
    )
    .unwrap();
    ingest::run(&db.store, &claude_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    let after = run_totals(&db).await;
    assert_eq!(after.0, before.0);
    assert!((after.1 - before.1).abs() < 1e-9);
    db.finish().await;
}
both!(resumed_session_copies_count_once);

fn claude_line(i: usize, session: &str, out_tokens: i64) -> String {
    serde_json::json!({
        "type": "assistant", "sessionId": session, "cwd": "/w", "gitBranch": "claude/x",
        "timestamp": format!("2026-03-14T09:{:02}:{:02}.000Z", i / 60, i % 60),
        "requestId": format!("req_{i}"),
        "message": {"id": format!("msg_{i}"), "model": "claude-sonnet-4-5", "role": "assistant",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 10, "output_tokens": out_tokens,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100}}
    })
    .to_string()
}

/// Logs written while the ingest runs: a malformed line in the middle, a half-written last
/// line completed later, then truncation and rotation.
async fn tailing_reads_only_what_is_new(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("projects/-w");
    std::fs::create_dir_all(&proj).unwrap();
    let file = proj.join("s1.jsonl");
    let src = claude_sources(dir.path());
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..5 {
        writeln!(f, "{}", claude_line(i, "s1", 100)).unwrap();
    }
    writeln!(f, "{{\"type\":\"assistant\",\"broken").unwrap(); // malformed, line 6
    let half = claude_line(6, "s1", 100);
    let (a, b) = half.split_at(40);
    write!(f, "{a}").unwrap(); // the writer is mid-line
    f.flush().unwrap();
    let r1 = ingest::run(&db.store, &src, None, NOW).await.unwrap();
    assert_eq!(r1.lines, 6);
    assert_eq!(r1.skipped_lines, 1);
    assert!(
        r1.problems.iter().any(|p| p
            .ends_with(&format!("s1.jsonl:6: {}", p.rsplit(": ").next().unwrap()))
            && p.contains("s1.jsonl:6:")),
        "{:?}",
        r1.problems
    );
    assert_eq!(run_totals(&db).await.0.output, 500);

    // The line is finished and more are appended: only those are read.
    writeln!(f, "{b}").unwrap();
    for i in 7..10 {
        writeln!(f, "{}", claude_line(i, "s1", 100)).unwrap();
    }
    f.flush().unwrap();
    let r2 = ingest::run(&db.store, &src, None, NOW).await.unwrap();
    assert_eq!((r2.lines, r2.skipped_lines), (4, 0));
    assert_eq!(run_totals(&db).await.0.output, 900);
    let run = &db.store.agent_runs().await.unwrap()[0];
    assert_eq!(run.skipped_lines, 1);

    // Truncated and rewritten shorter: what was read from it is forgotten and re-read.
    drop(f);
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            claude_line(0, "s1", 100),
            claude_line(1, "s1", 100)
        ),
    )
    .unwrap();
    ingest::run(&db.store, &src, None, NOW).await.unwrap();
    assert_eq!(run_totals(&db).await.0.output, 200);
    assert_eq!(db.store.agent_runs().await.unwrap()[0].skipped_lines, 0);

    // Rotated: the old file moves away (still a log, its records still count), a new one
    // starts at the same path.
    std::fs::rename(&file, proj.join("s1-rotated.jsonl")).unwrap();
    std::fs::write(&file, format!("{}\n", claude_line(50, "s1", 7))).unwrap();
    ingest::run(&db.store, &src, None, NOW).await.unwrap();
    assert_eq!(run_totals(&db).await.0.output, 207);
    db.finish().await;
}
both!(tailing_reads_only_what_is_new);

/// A 20 MB line (a runaway tool result) in the middle of a session: reported by file and line,
/// never loaded, and the lines around it count.
async fn a_line_too_long_to_load_is_reported_not_read(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("projects/-w");
    std::fs::create_dir_all(&proj).unwrap();
    let file = proj.join("s1.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(f, "{}", claude_line(0, "s1", 100)).unwrap();
    let huge =
        claude_line(1, "s1", 100).replace("\"ok\"", &format!("\"{}\"", "y".repeat(20 << 20)));
    writeln!(f, "{huge}").unwrap();
    writeln!(f, "{}", claude_line(2, "s1", 100)).unwrap();
    drop(f);
    let r = ingest::run(&db.store, &claude_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    assert_eq!((r.lines, r.skipped_lines), (3, 1));
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("s1.jsonl:2:") && p.contains("MiB a log line may have")),
        "{:?}",
        r.problems
    );
    assert_eq!(run_totals(&db).await.0.output, 200);
    db.finish().await;
}
both!(a_line_too_long_to_load_is_reported_not_read);

async fn gemini_sessions_are_read_whole_and_linked_by_project_hash(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("gemini/tmp"), &dir.path().join("tmp"));
    let src = Sources {
        gemini_dirs: vec![dir.path().join("tmp")],
        ..Default::default()
    };
    ingest::run(&db.store, &src, None, NOW).await.unwrap();
    let runs = db.store.agent_runs().await.unwrap();
    assert_eq!(runs.len(), 1);
    // input 8120 of which 4096 cached; 310 output + 220 thinking, billed as output.
    assert_eq!(
        runs[0].tokens,
        Tokens {
            input: 4024,
            output: 530,
            cache_write: 0,
            cache_read: 4096,
            reasoning: 220
        }
    );
    assert_eq!(runs[0].model, "gemini-2.5-pro");
    assert!(runs[0].cost_usd > 0.0);

    // A session of a watched repo: its project hash is the SHA-256 of the repo's root.
    let repo = dir.path().join("app");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    git2::Repository::init_opts(&repo, &init).unwrap();
    let root = repo.canonicalize().unwrap().display().to_string();
    let hash = flightdeck_core::sources::gemini::project_hash(&root);
    let chats = dir.path().join("tmp").join(&hash).join("chats");
    std::fs::create_dir_all(&chats).unwrap();
    let session = |out: i64| {
        serde_json::json!({
        "sessionId": "g2", "projectHash": hash, "startTime": "2026-03-15T09:00:00.000Z",
        "lastUpdated": "2026-03-15T09:01:00.000Z",
        "messages": [
            {"id": "u1", "timestamp": "2026-03-15T09:00:00.000Z", "type": "user", "content": "Add a test"},
            {"id": "g1", "timestamp": "2026-03-15T09:00:30.000Z", "type": "gemini", "content": "Done.",
             "model": "gemini-2.5-flash", "tokens": {"input": 1000, "output": out, "cached": 0, "total": 1000 + out}}
        ]})
        .to_string()
    };
    std::fs::write(chats.join("session-1.json"), session(50)).unwrap();
    let src = Sources {
        repos: vec![repo.clone()],
        ..src
    };
    ingest::run(&db.store, &src, None, NOW).await.unwrap();
    let g2 = db
        .store
        .agent_runs()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.session_id == "g2")
        .unwrap();
    assert_eq!(g2.repo, Some(support::repo_id(&root)));
    assert_eq!(g2.title, "Add a test");
    // Rewritten whole with more output: read again, not added twice.
    std::fs::write(chats.join("session-1.json"), session(80)).unwrap();
    ingest::run(&db.store, &src, None, NOW).await.unwrap();
    let g2 = db
        .store
        .agent_runs()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.session_id == "g2")
        .unwrap();
    assert_eq!(g2.tokens.output, 80);
    db.finish().await;
}
both!(gemini_sessions_are_read_whole_and_linked_by_project_hash);

/// A Gemini session file over the cap (a runaway tool result in its one JSON document): named
/// with its size, not loaded, not read again until it changes; the other sessions count.
async fn a_gemini_session_too_big_to_load_is_reported_not_read(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("gemini/tmp"), &dir.path().join("tmp"));
    let chats = dir.path().join("tmp/0123abcd/chats");
    std::fs::create_dir_all(&chats).unwrap();
    let huge = chats.join("session-huge.json");
    let filler = "y".repeat((flightdeck_core::sources::gemini::MAX_FILE_BYTES + 1) as usize);
    std::fs::write(
        &huge,
        serde_json::json!({"sessionId": "big", "projectHash": "0123abcd", "messages": [
            {"id": "u1", "timestamp": "2026-03-15T09:00:00.000Z", "type": "user", "content": filler}
        ]})
        .to_string(),
    )
    .unwrap();
    let src = Sources {
        gemini_dirs: vec![dir.path().join("tmp")],
        ..Default::default()
    };
    let r = ingest::run(&db.store, &src, None, NOW).await.unwrap();
    assert_eq!(r.skipped_lines, 1, "{:?}", r.problems);
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("session-huge.json:1:") && p.contains("MiB one may have")),
        "{:?}",
        r.problems
    );
    let runs = db.store.agent_runs().await.unwrap();
    assert_eq!(runs.len(), 1, "the fixture's session still counts");
    // Unchanged: passed over, not reported again on every pass.
    let again = ingest::run(&db.store, &src, None, NOW).await.unwrap();
    assert_eq!(again.skipped_lines, 0, "{:?}", again.problems);

    // A session counted while small that then grows past the cap keeps what it counted.
    let fixture_session = runs[0].session_id.clone();
    let small = std::fs::read_dir(dir.path().join("tmp"))
        .unwrap()
        .flatten()
        .flat_map(|p| {
            std::fs::read_dir(p.path().join("chats"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.path())
        .find(|p| p != &huge)
        .unwrap();
    let mut grown: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&small).unwrap()).unwrap();
    grown["messages"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "x", "type": "user", "content": filler}));
    std::fs::write(&small, grown.to_string()).unwrap();
    let r = ingest::run(&db.store, &src, None, NOW).await.unwrap();
    assert_eq!(r.skipped_lines, 1, "{:?}", r.problems);
    let runs = db.store.agent_runs().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].session_id, fixture_session);
    assert_eq!(runs[0].tokens.output, 530, "its usage was kept");
    db.finish().await;
}
both!(a_gemini_session_too_big_to_load_is_reported_not_read);

async fn generic_format_logs_are_read_per_agent_folder(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let agent_dir = dir.path().join("aider");
    std::fs::create_dir_all(&agent_dir).unwrap();
    std::fs::write(
        agent_dir.join("run.jsonl"),
        [
            r#"{"v":1,"session":"a1","ts":"2026-11-20T10:00:00Z","type":"start","cwd":"/w","branch":"agent/lint"}"#,
            r#"{"v":1,"session":"a1","ts":"2026-11-20T10:00:01Z","type":"prompt","text":"Fix lint"}"#,
            r#"{"v":1,"session":"a1","ts":"2026-11-20T10:00:09Z","type":"usage","id":"r1","model":"gpt-5","tokens":{"input":1000,"output":100}}"#,
            r#"not json"#,
            r#"{"v":1,"session":"a1","ts":"2026-11-20T10:01:00Z","type":"end"}"#,
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let src = Sources {
        generic_dirs: vec![dir.path().to_path_buf()],
        ..Default::default()
    };
    let report = ingest::run(&db.store, &src, None, NOW).await.unwrap();
    assert_eq!(report.skipped_lines, 1);
    assert!(
        report.problems[0].contains("run.jsonl:4:"),
        "{:?}",
        report.problems
    );
    let runs = db.store.agent_runs().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].agent.as_str(), runs[0].title.as_str()),
        ("aider", "Fix lint")
    );
    assert_eq!(runs[0].branch.as_deref(), Some("agent/lint"));
    assert!((runs[0].cost_usd - (1000.0 * 1.25e-6 + 100.0 * 10e-6)).abs() < 1e-12);
    db.finish().await;
}
both!(generic_format_logs_are_read_per_agent_folder);

/// A pass killed after its batches committed but before runs and the rollup were rebuilt: the
/// next pass, with nothing new to read, still rebuilds them.
async fn an_interrupted_rollup_is_rebuilt_by_the_next_pass(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("claude-code"), dir.path());
    ingest::run(&db.store, &claude_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    let before = (
        run_totals(&db).await,
        views::spend(&db.store).await.unwrap().total_usd,
    );
    // What a kill between the batches and the rebuild leaves: stale derived rows, dirty flag.
    sqlx::query("DELETE FROM agent_runs")
        .execute(db.store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM spend_records")
        .execute(db.store.pool())
        .await
        .unwrap();
    db.store
        .set_cursor("logs", "rollup", "dirty", NOW)
        .await
        .unwrap();
    let report = ingest::run(&db.store, &claude_sources(dir.path()), None, NOW)
        .await
        .unwrap();
    assert_eq!(report.lines, 0, "nothing new was read");
    let after = (
        run_totals(&db).await,
        views::spend(&db.store).await.unwrap().total_usd,
    );
    assert_eq!(after.0, before.0);
    assert!((after.1 - before.1).abs() < 1e-9);
    db.finish().await;
}
both!(an_interrupted_rollup_is_rebuilt_by_the_next_pass);

/// A run's detail lists every prompt, tool call and error its counts stand for, each pointing
/// at the file and line it came from; a log that has gone is reported, not fatal.
async fn run_events_agree_with_the_counts_and_point_at_their_lines(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("claude-code"), &dir.path().join("claude"));
    copy_dir(&fixtures().join("codex"), &dir.path().join("codex"));
    copy_dir(&fixtures().join("gemini/tmp"), &dir.path().join("gemini"));
    let src = Sources {
        claude_dirs: vec![dir.path().join("claude")],
        codex_homes: vec![dir.path().join("codex")],
        gemini_dirs: vec![dir.path().join("gemini")],
        ..Default::default()
    };
    ingest::run(&db.store, &src, None, NOW).await.unwrap();
    let runs = db.store.agent_runs().await.unwrap();
    let agents: std::collections::BTreeSet<_> = runs.iter().map(|r| r.agent.as_str()).collect();
    assert_eq!(agents.len(), 3, "{agents:?}");
    let (mut prompts, mut tools) = (0, 0);
    for run in &runs {
        let detail = views::run_detail(&db.store, &run.id)
            .await
            .unwrap()
            .unwrap();
        assert!(detail.log_problems.is_empty(), "{:?}", detail.log_problems);
        let count = |k: RunEventKind| detail.events.iter().filter(|e| e.kind == k).count() as i64;
        assert_eq!(
            (
                count(RunEventKind::Prompt),
                count(RunEventKind::Tool),
                count(RunEventKind::Error)
            ),
            (run.turns, run.tool_calls, run.errors),
            "{}",
            run.id
        );
        prompts += run.turns;
        tools += run.tool_calls;
        if let Some(first) = detail
            .events
            .iter()
            .find(|e| e.kind == RunEventKind::Prompt)
        {
            let title = run.title.trim_end_matches('…');
            assert!(
                first.text.starts_with(title),
                "{} vs {}",
                first.text,
                run.title
            );
        }
        assert!(detail.events.windows(2).all(|w| w[0].at <= w[1].at));
        // Line-based logs: the line named holds the event (Gemini's whole-file JSON numbers
        // messages instead).
        if run.agent != "gemini-cli" {
            for e in detail
                .events
                .iter()
                .filter(|e| e.kind == RunEventKind::Tool)
            {
                let text = std::fs::read_to_string(&e.file).unwrap();
                let line = text.lines().nth(e.line as usize - 1).unwrap();
                let name = e.text.split(':').next().unwrap();
                assert!(line.contains(name), "{}:{} lacks {name}", e.file, e.line);
            }
        }
    }
    assert!(
        prompts > 0 && tools > 0,
        "the fixtures hold prompts and tool calls"
    );

    // The log goes away: the detail still opens, says so, and keeps the stored counts.
    let run = runs.iter().find(|r| r.agent == "claude-code").unwrap();
    std::fs::remove_file(&run.source_path).unwrap();
    let detail = views::run_detail(&db.store, &run.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        detail
            .log_problems
            .iter()
            .any(|p| p.contains(&run.source_path) && p.contains("no longer on disk")),
        "{:?}",
        detail.log_problems
    );
    assert_eq!(detail.run.turns, run.turns);
    db.finish().await;
}
both!(run_events_agree_with_the_counts_and_point_at_their_lines);
