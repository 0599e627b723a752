//! The application layer on a real git repo, a real SQLite store and a real (fake) agent
//! process: the runtime scans first and resumes the dispatches an earlier process queued, and
//! a decision with a send-back is refused whole when the send-back is wrong, or queues the
//! agent's next run on the change's own branch when it is right.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use flightdeck_app::review;
use flightdeck_app::work::Launch;
use flightdeck_app::{AppError, Lead, Runtime, RuntimeOptions};
use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::domain::outbox::Decide;
use flightdeck_core::domain::work::{self, AgentConfig};
use flightdeck_core::model::events::EventBus;
use flightdeck_core::store::Store;

#[path = "../../../tests/support/mod.rs"]
mod support;
use flightdeck_core::model::{ActionKind, DispatchState};
use support::{fake_agent, git};

struct Setup {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    lead: Lead,
    store: Store,
}

/// A repo with `main` and an agent's branch `claude/add-health`, a fake agent `fake`, and a
/// lead acting with them on a fresh store.
async fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("web");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "# web\n").unwrap();
    git(&repo, &["add", "README.md"]);
    git(&repo, &["commit", "-q", "-m", "Initial commit"]);
    git(&repo, &["checkout", "-q", "-b", "claude/add-health"]);
    std::fs::write(repo.join("health.rs"), "fn health() {}\n").unwrap();
    git(&repo, &["add", "health.rs"]);
    git(&repo, &["commit", "-q", "-m", "Add a health endpoint"]);
    git(&repo, &["checkout", "-q", "main"]);
    let repo = repo.canonicalize().unwrap();
    let claude = tmp.path().join("claude");
    std::fs::create_dir_all(claude.join("projects")).unwrap();
    let trace = tmp.path().join("trace");
    std::fs::write(&trace, "").unwrap();
    let fake = fake_agent();
    let agent = AgentConfig {
        vendor: Some("anthropic".into()),
        model: Some("claude-sonnet-4-5".into()),
        command: [
            "bash",
            &fake,
            "ok",
            claude.to_str().unwrap(),
            trace.to_str().unwrap(),
            "{prompt}",
        ]
        .map(String::from)
        .to_vec(),
        concurrency: Some(1),
        env: Vec::new(),
    };
    let lead = Lead {
        name: "Alice Martin".into(),
        email: "alice@acme.dev".into(),
        audit_key: tmp.path().join("audit-key"),
        github: None,
        growthbook: None,
        agents: [("fake".to_string(), agent)].into(),
        data_dir: tmp.path().join("data"),
        sources: Some(Sources {
            repos: vec![repo.clone()],
            claude_dirs: vec![claude],
            ..Default::default()
        }),
        policy_file: tmp.path().join("no-policy.toml"),
        reach: Default::default(),
        person: flightdeck_core::domain::team::Person::named("Alice Martin"),
        team: Default::default(),
    };
    let store = Store::open(&format!("sqlite://{}", tmp.path().join("fd.db").display()))
        .await
        .unwrap();
    Setup {
        _tmp: tmp,
        repo,
        lead,
        store,
    }
}

fn options() -> RuntimeOptions {
    RuntimeOptions {
        first_scan: true,
        rescan_every: Duration::from_secs(3_600),
        send_every: Duration::from_secs(3_600),
        billing: Vec::new(),
        billing_every: Duration::from_secs(3_600),
        growthbook: None,
        growthbook_every: Duration::from_secs(3_600),
        incident_labels: Vec::new(),
        notifier: None,
        notify_every: Duration::from_secs(3_600),
        notify_warnings: Vec::new(),
    }
}

#[tokio::test]
async fn the_runtime_scans_first_then_resumes_queued_dispatches() {
    let s = setup().await;
    // An earlier process knew the repo, queued a dispatch and stopped before starting it.
    let sources = s.lead.sources.clone().unwrap();
    ingest::run(&s.store, &sources, None, flightdeck_app::now())
        .await
        .unwrap();
    let key = s.lead.key().unwrap();
    let now = flightdeck_app::now();
    let item = work::add(
        &s.store,
        &key,
        "Alice Martin",
        "Add rate limiting",
        "",
        Some(s.repo.to_str().unwrap()),
        Some("agent:fake".into()),
        now,
    )
    .await
    .unwrap();
    let bus = EventBus::new();
    let queued = flightdeck_app::work::dispatch(
        &s.lead,
        &s.store,
        &bus,
        &item.id,
        None,
        Launch::Queued,
        now,
    )
    .await
    .unwrap();
    assert_eq!(queued.agent, "fake", "the assigned agent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d = s.store.dispatch(&queued.id).await.unwrap().unwrap();
    assert_eq!(
        d.state,
        DispatchState::Queued,
        "Launch::Queued starts nothing"
    );

    let runtime = Runtime::start(&s.lead, &s.store, &bus, options())
        .await
        .unwrap();
    let scan = runtime.first_scan.as_ref().expect("asked for a first scan");
    assert_eq!(scan.repos, 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = loop {
        let d = s.store.dispatch(&queued.id).await.unwrap().unwrap();
        if !matches!(d.state.as_str(), "queued" | "running") {
            break d;
        }
        assert!(Instant::now() < deadline, "dispatch left {}", d.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ended.state, DispatchState::Succeeded, "{:?}", ended.error);
    drop(runtime);
}

#[tokio::test]
async fn a_wrong_send_back_decides_nothing_and_a_right_one_queues_the_agent() {
    let s = setup().await;
    let bus = EventBus::new();
    let sources = s.lead.sources.clone().unwrap();
    ingest::run(&s.store, &sources, None, flightdeck_app::now())
        .await
        .unwrap();
    let change = s
        .store
        .change_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.head == "claude/add-health")
        .expect("the agent branch is a change request");
    let decide = |kind: &str, agent: &str| Decide {
        kind: kind.into(),
        comment: Some("Add a test for it".into()),
        send_back: Some(agent.into()),
        ..Default::default()
    };
    let now = flightdeck_app::now();

    let e = review::decide(
        &s.lead,
        &s.store,
        &bus,
        &change.id,
        &decide("request_changes", "nobody"),
        Launch::Queued,
        now,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, AppError::Dispatch(_)), "{e}");
    assert!(e.to_string().contains("nobody"), "{e}");
    let e = review::decide(
        &s.lead,
        &s.store,
        &bus,
        &change.id,
        &decide("approve", "fake"),
        Launch::Queued,
        now,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, AppError::Invalid(_)), "{e}");
    assert!(
        s.store.actions().await.unwrap().is_empty(),
        "nothing decided"
    );
    assert!(s.store.dispatches().await.unwrap().is_empty());

    let mut events = bus.subscribe();
    let decided = review::decide(
        &s.lead,
        &s.store,
        &bus,
        &change.id,
        &decide("request_changes", "fake"),
        Launch::Queued,
        now,
    )
    .await
    .unwrap();
    assert_eq!(decided.action.kind, ActionKind::RequestChanges);
    let d = decided.dispatch.expect("sent back");
    assert_eq!(
        (d.agent.as_str(), d.branch.as_str()),
        ("fake", "claude/add-health")
    );
    assert_eq!(d.state, DispatchState::Queued);
    assert!(events.try_recv().is_ok(), "the views were told");
}

/// A pull request's review page reads with GitHub out of reach: the sync keeps its files, the
/// diff of the current head is served from them without asking GitHub; a head with no stored
/// copy is fetched once and kept; when GitHub cannot answer, the stored files are shown with
/// when they were fetched, the head they are of and why, and GitHub is not asked again until
/// its pause ends; with nothing stored, the error says so.
#[tokio::test]
async fn a_pull_requests_diff_reads_with_github_out_of_reach() {
    use flightdeck_app::lead::GitHubAccess;
    use flightdeck_core::forge::diff;
    use flightdeck_core::forge::github::{change_id, sync_repo, GitHub};
    let s = setup().await;
    let hub = fakehub::Hub::new();
    hub.add_pull(
        "acme/web",
        fakehub::Pr::new(7, "Add a limiter", "claude[bot]", "claude/limit", "a1"),
    );
    let url = hub.serve(0).await.unwrap();
    let gh = GitHub::new(&url, None).unwrap();
    sync_repo(&gh, &s.store, "acme/web", s.repo.to_str().unwrap())
        .await
        .unwrap();
    let id = change_id("acme/web", 7);
    let (head, synced_at, files) = diff::stored_files(&s.store, &id).await.unwrap().unwrap();
    assert_eq!(head, "a1");
    assert!(!files.is_empty() && !files[0].hunks.is_empty(), "{files:?}");

    let mut lead = s.lead.clone();
    lead.github = Some(GitHubAccess::with_token(&url, None));
    let now = flightdeck_app::now();
    let asked = hub.counts().0;
    let d = review::change_diff(Some(&lead), &s.store, &id, 1, now)
        .await
        .unwrap();
    assert_eq!((d.head_sha.as_str(), d.fetched_at), ("a1", Some(synced_at)));
    assert_eq!(d.files, files);
    assert!(d.note.is_none());
    assert_eq!(
        hub.counts().0,
        asked,
        "the current head's files come from the store"
    );

    // A store with the change but no copy of its diff (made before copies were kept): asked
    // once, then kept.
    let change = s.store.change_request(&id).await.unwrap().unwrap();
    let bare = Store::open(&format!(
        "sqlite://{}",
        s.repo.with_extension("bare.db").display()
    ))
    .await
    .unwrap();
    bare.upsert_change_request(&change).await.unwrap();
    let d = review::change_diff(Some(&lead), &bare, &id, 1, now + 5)
        .await
        .unwrap();
    assert_eq!((d.fetched_at, d.files.len()), (Some(now + 5), files.len()));
    assert!(hub.counts().0 > asked);
    let asked = hub.counts().0;
    review::change_diff(Some(&lead), &bare, &id, 1, now + 6)
        .await
        .unwrap();
    assert_eq!(hub.counts().0, asked);

    // The kept copy is of an older head and GitHub refuses connections: the old files, saying
    // so; the head they are of is what an approval from this page names.
    diff::store_files(&s.store, &id, "old0", now - 3_600, &files)
        .await
        .unwrap();
    let mut offline = lead.clone();
    offline.github = Some(GitHubAccess::with_token("http://127.0.0.1:1", None));
    let d = review::change_diff(Some(&offline), &s.store, &id, 1, now + 10)
        .await
        .unwrap();
    assert_eq!(
        (d.head_sha.as_str(), d.fetched_at),
        ("old0", Some(now - 3_600))
    );
    let note = d.note.unwrap();
    assert!(note.contains("cannot be reached"), "{note}");
    // Paused now: the next view does not knock, and says when it will ask again.
    let t = Instant::now();
    let d = review::change_diff(Some(&offline), &s.store, &id, 1, now + 11)
        .await
        .unwrap();
    assert!(d.note.unwrap().contains("asked again after"));
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    // Nothing kept and nothing reachable: an error that says both.
    let empty = Store::open(&format!(
        "sqlite://{}",
        s.repo.with_extension("empty.db").display()
    ))
    .await
    .unwrap();
    empty.upsert_change_request(&change).await.unwrap();
    let err = review::change_diff(Some(&offline), &empty, &id, 1, now + 12)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("no copy of this diff"), "{err}");
}
