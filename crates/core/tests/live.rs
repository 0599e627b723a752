//! The live watcher against real files: a log written and appended while it runs, a commit and
//! a new branch in a real repository; each reaches the event bus and the store without a rescan.

mod support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::model::events::Event;
use flightdeck_core::store::Store;
use flightdeck_core::{model::events::EventBus, watch};

fn commit_on(repo: &git2::Repository, branch: &str, file: &str, message: &str) {
    support::commit_file(repo, branch, file, message, message);
}

/// A repository on `main` with one commit.
fn new_repo(path: &Path) -> git2::Repository {
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(path, &init).unwrap();
    commit_on(&repo, "main", "a.txt", "Initial commit");
    repo
}

fn line(i: usize) -> String {
    serde_json::json!({
        "type": "assistant", "sessionId": "live", "cwd": "/w", "gitBranch": "claude/live",
        "timestamp": format!("2026-11-25T10:00:{:02}.000Z", i),
        "requestId": format!("r{i}"),
        "message": {"id": format!("m{i}"), "model": "claude-sonnet-4-5", "role": "assistant",
            "content": [], "usage": {"input_tokens": 1, "output_tokens": 10}}
    })
    .to_string()
}

/// Waits for events until `check` holds (a burst of writes may take more than one pass).
async fn until<F, Fut>(rx: &mut tokio::sync::broadcast::Receiver<Event>, what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let got = tokio::time::timeout(left, rx.recv()).await;
        assert!(got.is_ok(), "no event for: {what}");
        if check().await {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_and_commits_reach_the_bus_and_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let repo_path = dir.path().join("app");
    let repo = new_repo(&repo_path);
    let claude = dir.path().join("claude");
    std::fs::create_dir_all(claude.join("projects")).unwrap();
    let store = Store::open(&dir.path().join("fd.db").display().to_string())
        .await
        .unwrap();
    let sources = Sources {
        repos: vec![repo_path.clone()],
        claude_dirs: vec![claude.clone()],
        ..Default::default()
    };
    ingest::run(&store, &sources, None, 0).await.unwrap();
    let bus = EventBus::new();
    let mut rx = bus.subscribe();
    let handle = watch::spawn(store.clone(), bus.clone(), sources).unwrap();
    assert!(handle.problems.is_empty(), "{:?}", handle.problems);

    // A new session appears: new folder, new file.
    let proj = claude.join("projects/-w");
    std::fs::create_dir_all(&proj).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await; // let the new folder be watched
    let file = proj.join("live.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(f, "{}", line(0)).unwrap();
    f.flush().unwrap();
    until(&mut rx, "new session", || async {
        store
            .agent_runs()
            .await
            .unwrap()
            .first()
            .map(|r| r.tokens.output)
            == Some(10)
    })
    .await;

    // It keeps working: tokens tick up.
    writeln!(f, "{}", line(1)).unwrap();
    f.flush().unwrap();
    until(&mut rx, "appended line", || async {
        store.agent_runs().await.unwrap()[0].tokens.output == 20
    })
    .await;

    // An agent branch is created and committed to.
    commit_on(&repo, "claude/live", "b.txt", "Add b");
    until(&mut rx, "new branch", || async {
        store
            .branches()
            .await
            .unwrap()
            .iter()
            .any(|b| b.name == "claude/live" && b.agent.as_deref() == Some("claude-code"))
    })
    .await;
    assert_eq!(store.commits_between(0, i64::MAX).await.unwrap().len(), 2);
    drop(handle);
}

/// `flightdeck repo add` while the watcher runs: the repo is read within a poll, and from then
/// on its commits arrive live, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repo_added_while_watching_is_watched_live() {
    let dir = tempfile::tempdir().unwrap();
    let repo_path = dir.path().join("later");
    let repo = new_repo(&repo_path);
    let store = Store::open(&dir.path().join("fd.db").display().to_string())
        .await
        .unwrap();
    let bus = EventBus::new();
    let mut rx = bus.subscribe();
    let handle = watch::spawn(store.clone(), bus.clone(), Sources::default()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.repos().await.unwrap().is_empty());

    store
        .watch_repo(&repo_path.canonicalize().unwrap().display().to_string())
        .await
        .unwrap();
    until(&mut rx, "added repo read", || async {
        store.commits_between(0, i64::MAX).await.unwrap().len() == 1
    })
    .await;

    // Live from now on. Only the watch can bring this commit: the poll reads a repo once, when
    // it is added, and no periodic rescan runs here.
    commit_on(&repo, "main", "b.txt", "Second commit");
    until(&mut rx, "commit in the added repo", || async {
        store.commits_between(0, i64::MAX).await.unwrap().len() == 2
    })
    .await;
    drop(handle);
}

/// Reading a repository is not a change: opening `.git` files (every scan does, and so does
/// an editor's `git status`, which also rewrites the index) starts no pass; a commit does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_a_repository_start_no_pass() {
    let dir = tempfile::tempdir().unwrap();
    let repo_path = dir.path().join("quiet");
    let repo = new_repo(&repo_path);
    let store = Store::open(&dir.path().join("fd.db").display().to_string())
        .await
        .unwrap();
    let sources = Sources {
        repos: vec![repo_path.clone()],
        ..Default::default()
    };
    ingest::run(&store, &sources, None, 0).await.unwrap();
    let bus = EventBus::new();
    let mut rx = bus.subscribe();
    let handle = watch::spawn(store.clone(), bus.clone(), sources.clone()).unwrap();
    assert!(handle.problems.is_empty(), "{:?}", handle.problems);

    for _ in 0..5 {
        // What a scan and an editor do: open and read refs and config, refresh the index.
        ingest::run(&store, &sources, None, 0).await.unwrap();
        for f in ["HEAD", "config", "packed-refs", "refs/heads/main"] {
            let _ = std::fs::read(repo_path.join(".git").join(f));
        }
        let status = std::process::Command::new("git")
            .args(["status", "--porcelain"])
            .current_dir(&repo_path)
            .output()
            .unwrap();
        assert!(status.status.success());
        tokio::time::sleep(watch::DEBOUNCE * 2).await;
    }
    assert_eq!(handle.passes(), 0, "reads started ingest passes");

    commit_on(&repo, "main", "b.txt", "Add b");
    until(&mut rx, "commit read", || async {
        store.commits_between(0, i64::MAX).await.unwrap().len() == 2
    })
    .await;
    assert!(handle.passes() >= 1);
    drop(handle);
}
