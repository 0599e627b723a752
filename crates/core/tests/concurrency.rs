//! Several processes on one database: a new SQLite file opened by many at once is migrated
//! once, a writer waits for another's long transaction instead of failing, and a pass over
//! unchanged sources writes nothing.

mod support;

use std::time::Duration;

use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::store::Store;
use sqlx::Connection;

/// A repository with a few commits, and a Claude Code log, in `dir`.
fn sources_in(dir: &std::path::Path) -> Sources {
    let repo_path = dir.join("app");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(&repo_path, &init).unwrap();
    for i in 0..3 {
        support::commit_file(&repo, "main", &format!("f{i}.txt"), "x\n", &format!("c{i}"));
    }
    let proj = dir.join("claude/projects/-w");
    std::fs::create_dir_all(&proj).unwrap();
    let line = serde_json::json!({
        "type": "assistant", "sessionId": "s1", "cwd": repo_path, "gitBranch": "main",
        "timestamp": "2026-11-25T10:00:00.000Z", "requestId": "r1",
        "message": {"id": "m1", "model": "claude-sonnet-4-5", "role": "assistant",
            "content": [], "usage": {"input_tokens": 1, "output_tokens": 10}}
    });
    std::fs::write(proj.join("s1.jsonl"), format!("{line}\n")).unwrap();
    Sources {
        repos: vec![repo_path],
        claude_dirs: vec![dir.join("claude")],
        ..Default::default()
    }
}

/// Many openers of one new file at once (processes starting together): every one succeeds and
/// the schema is made once. Without a migration lock the losers failed with "table repos
/// already exists" or "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_file_opened_by_many_at_once_is_migrated_once() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("new.db").display());
        let opens = (0..4).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::open(&url).await })
        });
        for (i, o) in futures_util::future::join_all(opens)
            .await
            .into_iter()
            .enumerate()
        {
            let store = o
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}, opener {i}: {e}"));
            assert!(store.repos().await.unwrap().is_empty());
            store.close().await;
        }
    }
}

/// Another process holding the write lock for longer than SQLite's default five seconds (a
/// big ingest's rollup): an ingest waits for it and then writes, instead of failing with
/// "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_waits_for_another_process_long_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fd.db").display());
    let store = Store::open(&url).await.unwrap();
    let sources = sources_in(dir.path());

    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO ingest_cursors (source, key, position, updated_at)
         VALUES ('other', 'process', 'x', 0)",
    )
    .execute(&mut other)
    .await
    .unwrap();
    let holder = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(7)).await;
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
        other
    });
    let report = ingest::run(&store, &sources, None, 0).await.unwrap();
    assert_eq!(report.repos, 1);
    assert_eq!(report.new_commits, 3);
    assert!(
        holder.is_finished(),
        "ingest wrote while another held the lock"
    );
    assert_eq!(store.agent_runs().await.unwrap().len(), 1);
}

/// A write transaction of the store that reads before it writes, while another process writes
/// in between: the other waits for it (the store's transaction holds the write lock from its
/// start). A deferred transaction would fail at its first write with "database is locked"
/// (SQLITE_BUSY_SNAPSHOT: its snapshot is stale), which no busy timeout waits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_reads_then_writes_is_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fd.db").display());
    let store = Store::open(&url).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let before: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ingest_cursors")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let other_url = url.clone();
    let other = tokio::spawn(async move {
        let mut c = sqlx::SqliteConnection::connect(&other_url).await.unwrap();
        sqlx::query(
            "INSERT INTO ingest_cursors (source, key, position, updated_at)
             VALUES ('other', 'process', 'x', 0)",
        )
        .execute(&mut c)
        .await
    });
    // Time for the other process to try its write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query(
        "INSERT INTO ingest_cursors (source, key, position, updated_at) VALUES ('us', 'k', $1, 0)",
    )
    .bind(before.to_string())
    .execute(&mut *tx)
    .await
    .expect("the store's write after its read");
    tx.commit().await.unwrap();
    other
        .await
        .unwrap()
        .expect("the other process's write, after ours");
    assert_eq!(
        store.cursor("other", "process").await.unwrap().as_deref(),
        Some("x")
    );
    assert_eq!(store.cursor("us", "k").await.unwrap().as_deref(), Some("0"));
}

/// SQLite's count of commits by other connections: it moves whenever anything was written.
async fn data_version(conn: &mut sqlx::SqliteConnection) -> i64 {
    sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Idle means idle: a pass over sources that did not change writes nothing to the database
/// (a rescan every minute, or a watcher pass, must not keep the disk and the WAL busy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_over_unchanged_sources_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fd.db").display());
    let store = Store::open(&url).await.unwrap();
    let sources = sources_in(dir.path());
    let first = ingest::run(&store, &sources, None, 0).await.unwrap();
    assert_eq!((first.repos, first.new_commits, first.runs), (1, 3, 1));

    let mut watcher = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let before = data_version(&mut watcher).await;
    for now in [60, 120, 180] {
        let again = ingest::run(&store, &sources, None, now).await.unwrap();
        assert_eq!((again.repos, again.new_commits, again.runs), (1, 0, 0));
    }
    assert_eq!(
        data_version(&mut watcher).await,
        before,
        "an idle pass wrote"
    );

    // And a change is still written.
    let repo = git2::Repository::open(&sources.repos[0]).unwrap();
    support::commit_file(&repo, "main", "g.txt", "y\n", "c3");
    let after = ingest::run(&store, &sources, None, 240).await.unwrap();
    assert_eq!(after.new_commits, 1);
    assert_ne!(data_version(&mut watcher).await, before);
}
