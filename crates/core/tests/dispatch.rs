//! Agent dispatch with a fake agent (`assets/fake-agent.sh`: edits, commits, writes a Claude
//! Code session log; can fail or hang): real git worktrees, real processes, real cancellation
//! (the whole process tree stops, nothing is orphaned, the worktree stays), the agent's
//! concurrency limit, a failed run shown with its last output, and what a run made — its
//! session, branch and change — linked to the work item.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flightdeck_core::domain::dispatch::{self, Dispatcher, Progress};
use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::domain::work::{self, AgentConfig};
use flightdeck_core::model::audit::AuditKey;
use flightdeck_core::model::{Dispatch, DispatchState, WorkLinkKind, WorkState};
use support::{both, commit_file, TestDb};

const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fake-agent.sh");

struct Setup {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    claude: PathBuf,
    trace: PathBuf,
    data: PathBuf,
    key: Arc<AuditKey>,
    sources: Sources,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("web");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let r = git2::Repository::init_opts(&repo, &init).unwrap();
    commit_file(&r, "main", "README.md", "# web\n", "Initial commit");
    let repo = repo.canonicalize().unwrap();
    let claude = tmp.path().join("claude");
    std::fs::create_dir_all(claude.join("projects")).unwrap();
    let trace = tmp.path().join("trace");
    std::fs::write(&trace, "").unwrap();
    let data = tmp.path().join("data");
    let key = Arc::new(AuditKey::load_or_create(&tmp.path().join("key")).unwrap());
    let sources = Sources {
        repos: vec![repo.clone()],
        claude_dirs: vec![claude.clone()],
        ..Default::default()
    };
    Setup {
        _tmp: tmp,
        repo,
        claude,
        trace,
        data,
        key,
        sources,
    }
}

/// The fake agent in `mode`, as a config would declare it.
fn agent(s: &Setup, mode: &str, concurrency: u32) -> AgentConfig {
    AgentConfig {
        vendor: Some("anthropic".into()),
        model: Some("claude-sonnet-4-5".into()),
        command: vec![
            "bash".into(),
            FAKE.into(),
            mode.into(),
            s.claude.display().to_string(),
            s.trace.display().to_string(),
            "{prompt}".into(),
        ],
        concurrency: Some(concurrency),
        env: Vec::new(),
    }
}

async fn dispatcher(db: &TestDb, s: &Setup, agents: &[(&str, AgentConfig)]) -> Dispatcher {
    ingest::run(&db.store, &s.sources, None, now())
        .await
        .unwrap();
    let agents: BTreeMap<String, AgentConfig> = agents
        .iter()
        .map(|(n, a)| (n.to_string(), a.clone()))
        .collect();
    Dispatcher::new(db.store.clone(), agents, &s.data, s.key.clone(), "alice")
        .with_sources(s.sources.clone())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn new_item(db: &TestDb, s: &Setup, title: &str) -> String {
    let repo = s.repo.display().to_string();
    work::add(
        &db.store,
        &s.key,
        "alice",
        title,
        "Return 200 and the build's version.",
        Some(&repo),
        None,
        now(),
    )
    .await
    .unwrap()
    .id
}

fn trace_lines(s: &Setup, kind: &str) -> Vec<String> {
    std::fs::read_to_string(&s.trace)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(kind))
        .map(str::to_string)
        .collect()
}

/// Whether process `pid` is gone (a zombie no one has reaped yet counts as gone: it runs
/// nothing).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

async fn dispatch_runs_the_agent_in_a_worktree_and_links_what_it_made(db: TestDb) {
    let s = setup();
    let d = dispatcher(&db, &s, &[("claude", agent(&s, "ok", 1))]).await;
    let id = new_item(&db, &s, "Add a health endpoint").await;
    let queued = d.start(&id, "claude", now()).await.unwrap();
    assert_eq!(queued.state, DispatchState::Queued);
    assert!(
        queued.branch.starts_with(&format!(
            "claude/{}-add-a-health-endpoint",
            id.to_lowercase()
        )),
        "{}",
        queued.branch
    );
    let repo = git2::Repository::open(&s.repo).unwrap();
    let main_before = repo.revparse_single("main").unwrap().id();
    // A real linked worktree with the new branch checked out, from main.
    let wt = git2::Repository::open(&queued.worktree).unwrap();
    assert!(wt.is_worktree());
    assert_eq!(wt.head().unwrap().shorthand(), Some(queued.branch.as_str()));
    let w = work::find(&db.store, &id).await.unwrap();
    assert_eq!(
        (w.assignee.as_deref(), w.state.as_str()),
        (Some("agent:claude"), "in_progress")
    );

    let mut lines = Vec::new();
    let ended = d
        .run(&queued.id, |p| {
            if let Progress::Line(l) = p {
                lines.push(l)
            }
        })
        .await
        .unwrap();
    assert_eq!(ended.state, DispatchState::Succeeded, "{ended:?}");
    assert_eq!(ended.exit_code, Some(0));
    assert!(
        lines.iter().any(|l| l.contains("fake agent: committed")),
        "{lines:?}"
    );
    assert!(ended.output_tail.contains("fake agent: done"));
    let log = std::fs::read_to_string(dispatch::log_path(&s.data, &ended.id)).unwrap();
    // Flightdeck's own line first, then the task as the work item gives it.
    assert!(
        log.contains("prompt starts: Flightdeck dispatch of work item"),
        "{log}"
    );
    assert!(
        ended.prompt.contains("\n\nAdd a health endpoint\n"),
        "{}",
        ended.prompt
    );

    // The agent's commit is on the dispatch branch, on top of main; main did not move.
    let tip = repo
        .revparse_single(&ended.branch)
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(tip.parent_id(0).unwrap(), main_before);
    assert!(tip.message().unwrap().contains("Co-Authored-By: Claude"));
    assert_eq!(repo.revparse_single("main").unwrap().id(), main_before);
    assert!(Path::new(&ended.worktree)
        .join("fake-change-0.txt")
        .is_file());

    // Its session was read through the Claude source and linked, with the branch and change.
    let runs = db.store.agent_runs().await.unwrap();
    let run = runs
        .iter()
        .find(|r| r.branch.as_deref() == Some(&ended.branch))
        .expect("the dispatched session was ingested");
    assert_eq!(run.repo, Some(support::repo_id(&s.repo)));
    let w = work::find(&db.store, &id).await.unwrap();
    assert_eq!(w.state, WorkState::InReview);
    let has = |kind: WorkLinkKind, target: &str| {
        w.links.iter().any(|l| l.kind == kind && l.target == target)
    };
    assert!(has(WorkLinkKind::Run, &run.id), "{:?}", w.links);
    assert!(has(WorkLinkKind::Branch, &ended.branch), "{:?}", w.links);
    let change = format!("local:{}:{}", support::repo_id(&s.repo), ended.branch);
    assert!(has(WorkLinkKind::Change, &change), "{:?}", w.links);
    // Dispatching is an audited decision.
    let audit = db.store.audit_entries().await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "work dispatch" && e.target == id && e.detail.contains(&ended.id)));

    // A second dispatch of the same item gets a branch of its own.
    let again = d.start(&id, "claude", now()).await.unwrap();
    assert_ne!(again.branch, ended.branch);
    db.finish().await;
}
both!(dispatch_runs_the_agent_in_a_worktree_and_links_what_it_made);

async fn a_failing_agent_is_shown_failed_with_its_last_output(db: TestDb) {
    let s = setup();
    let mut missing = agent(&s, "ok", 1);
    missing.command[0] = "/nonexistent/agent-cli".into();
    let d = dispatcher(
        &db,
        &s,
        &[("claude", agent(&s, "fail", 1)), ("ghost", missing)],
    )
    .await;
    let id = new_item(&db, &s, "Flaky date test").await;
    let q = d.start(&id, "claude", now()).await.unwrap();
    let ended = d.run(&q.id, |_| {}).await.unwrap();
    assert_eq!(ended.state, DispatchState::Failed);
    assert_eq!(ended.exit_code, Some(3));
    assert_eq!(ended.error.as_deref(), Some("exited with code 3"));
    assert!(
        ended.output_tail.contains("error: the model refused"),
        "{}",
        ended.output_tail
    );
    assert!(ended.ended_at.is_some());
    // Nothing made, nothing linked beyond the branch it was given; still in progress.
    let w = work::find(&db.store, &id).await.unwrap();
    assert_eq!(w.state, WorkState::InProgress);
    assert!(!w.links.iter().any(|l| l.kind == WorkLinkKind::Change));

    // An agent whose program is not there fails with the reason.
    let q = d.start(&id, "ghost", now()).await.unwrap();
    let ended = d.run(&q.id, |_| {}).await.unwrap();
    assert_eq!(ended.state, DispatchState::Failed);
    let error = ended.error.unwrap_or_default();
    assert!(
        error.contains("could not start `/nonexistent/agent-cli`"),
        "{error}"
    );

    // A dispatch whose agent left the config before it started fails, not waits forever.
    let q = d.start(&id, "claude", now()).await.unwrap();
    let reconfigured = Dispatcher::new(
        db.store.clone(),
        BTreeMap::new(),
        &s.data,
        s.key.clone(),
        "alice",
    );
    let err = reconfigured.run(&q.id, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("no agent `claude`"), "{err}");
    let left = db.store.dispatch(&q.id).await.unwrap().unwrap();
    assert_eq!(left.state, DispatchState::Failed);

    // Unknown agents, items without a repo and missing items are refused by name.
    let err = d.start(&id, "gpt", now()).await.unwrap_err().to_string();
    assert!(
        err.contains("no agent `gpt`") && err.contains("claude, ghost"),
        "{err}"
    );
    let bare = work::add(&db.store, &s.key, "alice", "No repo", "", None, None, now())
        .await
        .unwrap();
    let err = d.start(&bare.id, "claude", now()).await.unwrap_err();
    assert!(err.to_string().contains("has no repo"), "{err}");
    let err = d.start("W-nope", "claude", now()).await.unwrap_err();
    assert!(err.to_string().contains("no work item `W-nope`"), "{err}");
    db.finish().await;
}
both!(a_failing_agent_is_shown_failed_with_its_last_output);

/// Waits (up to 20 s) for `f` to hold.
async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn cancel_stops_the_whole_process_tree_and_keeps_the_worktree() {
    let db = TestDb::sqlite().await;
    let s = setup();
    let d = dispatcher(&db, &s, &[("claude", agent(&s, "hang", 1))]).await;
    let id = new_item(&db, &s, "Hangs forever").await;
    let q = d.start(&id, "claude", now()).await.unwrap();
    let runner = tokio::spawn({
        let d = d.clone();
        let id = q.id.clone();
        async move { d.run(&id, |_| {}).await.unwrap() }
    });
    // Running: its pid recorded, and the child it started is alive.
    until("the agent started its child", async || {
        !trace_lines(&s, "child").is_empty()
    })
    .await;
    let running = db.store.dispatch(&q.id).await.unwrap().unwrap();
    assert_eq!(running.state, DispatchState::Running);
    let leader = running.pid.expect("a running dispatch has its pid") as u32;
    let child: u32 = trace_lines(&s, "child")[0]
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(!gone(leader) && !gone(child));

    let by = work::Actor {
        key: &s.key,
        name: "alice",
        now: now(),
    };
    let cancelled = dispatch::cancel(&db.store, &by, &q.id).await.unwrap();
    assert_eq!(cancelled.state, DispatchState::Cancelled);
    let ended = tokio::time::timeout(Duration::from_secs(15), runner)
        .await
        .expect("the runner ends once its process is stopped")
        .unwrap();
    assert_eq!(
        ended.state,
        DispatchState::Cancelled,
        "the exit it caused does not overwrite it"
    );
    assert_eq!(ended.error.as_deref(), Some("cancelled by alice"));
    until("no process of the tree is left", async || {
        gone(leader) && gone(child)
    })
    .await;
    // The worktree stays for inspection.
    assert!(Path::new(&ended.worktree).join(".git").exists());
    let audit = db.store.audit_entries().await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "work cancel" && e.detail.contains(&q.id)));
    // A cancelled dispatch cannot be cancelled again.
    let err = dispatch::cancel(&db.store, &by, &q.id).await.unwrap_err();
    assert!(
        err.to_string().contains("already ended (cancelled)"),
        "{err}"
    );
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_limit_is_respected() {
    let db = TestDb::sqlite().await;
    let s = setup();
    let d = dispatcher(&db, &s, &[("claude", agent(&s, "slow", 2))]).await;
    let mut queued: Vec<Dispatch> = Vec::new();
    for n in 0..3 {
        let id = new_item(&db, &s, &format!("Task {n}")).await;
        queued.push(d.start(&id, "claude", now()).await.unwrap());
    }
    let waited = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let runs: Vec<_> = queued
        .iter()
        .map(|q| {
            let d = d.clone();
            let id = q.id.clone();
            let waited = waited.clone();
            tokio::spawn(async move {
                d.run(&id, move |p| {
                    if matches!(
                        p,
                        Progress::Waiting {
                            running: 2,
                            limit: 2
                        }
                    ) {
                        waited.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
                .await
                .unwrap()
            })
        })
        .collect();
    for r in runs {
        let ended = r.await.unwrap();
        assert_eq!(ended.state, DispatchState::Succeeded, "{ended:?}");
    }
    assert_eq!(waited.load(std::sync::atomic::Ordering::SeqCst), 1);
    // From the agent's own trace: never more than two at once, and two did run at once.
    let time = |l: &String| -> f64 { l.split_whitespace().nth(2).unwrap().parse().unwrap() };
    let mut events: Vec<(f64, i32)> = trace_lines(&s, "start")
        .iter()
        .map(|l| (time(l), 1))
        .chain(trace_lines(&s, "end").iter().map(|l| (time(l), -1)))
        .collect();
    assert_eq!(events.len(), 6);
    events.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (mut at_once, mut most) = (0, 0);
    for (_, delta) in events {
        at_once += delta;
        most = most.max(at_once);
    }
    assert_eq!(most, 2);
    db.finish().await;
}

/// Four instances (each its own pool, as four machines would be) on one database claim an
/// agent's queued dispatches at once, round after round: never more running than the agent's
/// limit. On PostgreSQL the count and the claim are one decision under the agent's lock.
async fn the_limit_holds_across_instances(db: TestDb) {
    use flightdeck_core::model::{Dispatch, DispatchKind, DispatchState};
    const LIMIT: i64 = 2;
    const QUEUED: usize = 12;
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(flightdeck_core::store::Store::open(&db.url).await.unwrap());
    }
    for round in 0..25 {
        let ids: Vec<String> = (0..QUEUED).map(|i| format!("D-{round:04}{i:04}")).collect();
        for id in &ids {
            db.store
                .insert_dispatch(&Dispatch {
                    id: id.clone(),
                    work_item: "W-1".into(),
                    agent: "claude".into(),
                    repo: "/r".into(),
                    branch: format!("claude/{id}"),
                    worktree: "/w".into(),
                    kind: DispatchKind::Start,
                    prompt: "p".into(),
                    state: DispatchState::Queued,
                    host: "h".into(),
                    pid: None,
                    exit_code: None,
                    error: None,
                    output_tail: String::new(),
                    created_at: 1,
                    started_at: None,
                    ended_at: None,
                })
                .await
                .unwrap();
        }
        let mut racers = Vec::new();
        for (n, store) in stores.iter().enumerate() {
            let (store, ids) = (store.clone(), ids.clone());
            racers.push(tokio::spawn(async move {
                let mut won = 0;
                // Each instance tries the queue in its own order.
                for i in 0..QUEUED {
                    let id = &ids[(i * (n + 1) + n) % QUEUED];
                    if store.claim_dispatch(id, LIMIT, 2).await.unwrap() {
                        won += 1;
                    }
                }
                won
            }));
        }
        let mut claimed = 0;
        for r in racers {
            claimed += r.await.unwrap();
        }
        let running = db
            .store
            .dispatches()
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.state == DispatchState::Running)
            .count() as i64;
        assert_eq!(claimed, LIMIT, "round {round}: {claimed} claims won");
        assert_eq!(running, LIMIT, "round {round}");
        for id in &ids {
            db.store
                .finish_dispatch(id, DispatchState::Cancelled, None, None, 3)
                .await
                .unwrap();
        }
    }
    for s in stores {
        s.close().await;
    }
    db.finish().await;
}
both!(the_limit_holds_across_instances);
