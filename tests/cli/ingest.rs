//! Ingest and reports: a killed ingest restarted gives clean totals; reports; `repo add`.

use super::*;

/// A Claude Code corpus of `sessions` files × `lines` usage lines, with streaming snapshots and
/// a resumed copy of every tenth session, as the real logs have them.
pub(super) fn write_corpus(dir: &std::path::Path, sessions: usize, lines: usize) {
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
    std::fs::create_dir_all(home.path().join("no-codex")).unwrap();
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

/// A project cloned without its blobs (`git clone --filter=blob:none`, as big monorepos are):
/// not skipped whole as before (`0 repos`, `object not found`). Every commit is counted and
/// attributed; the ones whose lines need missing blobs are said to be unknown, and left out
/// of the line totals rather than counted as 0.
#[test]
fn a_blobless_clone_is_ingested_whole() {
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let repo = new_repo(&src);
    for i in 0..5 {
        commit_on(&repo, "main", &format!("f{i}.txt"), &format!("Change {i}"));
    }
    agent_commit(&repo, "claude/work", "agent.txt", "Agent work");
    git(&src, &["checkout", "-q", "main"]);
    git(&src, &["config", "uploadpack.allowFilter", "true"]);
    let url = format!("file://{}", src.display());
    git(
        home.path(),
        &[
            "clone",
            "-q",
            "--no-checkout",
            "--filter=blob:none",
            &url,
            "clone",
        ],
    );
    let clone = home.path().join("clone");
    git(&clone, &["branch", "claude/work", "origin/claude/work"]);
    let none = home.path().join("none");
    std::fs::create_dir_all(&none).unwrap();
    let db = home.path().join("fd.db");
    let out = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["ingest", "--repo"])
        .arg(&clone)
        .arg("--claude-dir")
        .arg(&none)
        .arg("--codex-home")
        .arg(&none)
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(text.contains("1 repos (7 new commits, "), "{text}");
    assert!(text.contains("with lines unknown"), "{text}");
    let rows = report_json(home.path(), &db, &["commits", "--by", "agent"]);
    let of = |key: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{rows}"))
    };
    assert_eq!(of("claude-code")["commits"], 1);
    assert_eq!(of("human")["commits"], 6);
    let unknown: i64 = ["claude-code", "human"]
        .iter()
        .map(|k| of(k)["diffstat_unknown"].as_i64().unwrap())
        .sum();
    assert!(unknown > 0, "{rows}");
    let text = ok(&with_db(home.path(), &db, &["report", "commits"]));
    assert!(text.contains("lines are unknown"), "{text}");
}
