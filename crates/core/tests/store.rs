//! The store suite, run once on SQLite and once on PostgreSQL. Every test body is written once
//! against `Store`; the `both!` macro makes a `sqlite` and a `postgres` test of it.
//!
//! PostgreSQL: `FLIGHTDECK_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! must reach a server where the user may create databases; each test gets a fresh database
//! and drops it afterwards. `.ci/run` and `scripts/test.sh` start the server when it is down.

mod support;

use flightdeck_core::demo;
use flightdeck_core::domain::ingest;
use flightdeck_core::model::*;
use flightdeck_core::model::{
    ActionKind, ActionState, DeployStatus, Mergeable, ReleaseState, WorkLinkKind, WorkState,
};
use flightdeck_core::views;
use flightdeck_core::Error;
use support::{both, TestDb};

async fn upserts_are_idempotent(db: TestDb) {
    let s = &db.store;
    let repo = Repo {
        id: "github.com/acme/one".into(),
        path: Some("/r/one".into()),
        name: "one".into(),
        default_branch: "main".into(),
        remote_url: None,
        last_scanned_at: Some(10),
    };
    s.upsert_repo(&repo).await.unwrap();
    s.upsert_repo(&Repo {
        name: "renamed".into(),
        ..repo.clone()
    })
    .await
    .unwrap();
    let repos = s.repos().await.unwrap();
    assert_eq!(repos.len(), 1);
    assert_eq!(repos[0].name, "renamed");

    let commit = Commit {
        repo: "/r/one".into(),
        sha: "abc".into(),
        author_name: "A".into(),
        author_email: "a@x".into(),
        authored_at: 100,
        committed_at: 100,
        summary: "s".into(),
        agent: Some("codex".into()),
        files_changed: Some(1),
        insertions: Some(2),
        deletions: Some(3),
    };
    s.upsert_commits(&[commit.clone(), commit.clone()])
        .await
        .unwrap();
    s.upsert_commits(std::slice::from_ref(&commit))
        .await
        .unwrap();
    let got = s.commits_between(0, 1_000).await.unwrap();
    assert_eq!(got, vec![commit]);
    let stats = s.commit_stats_by_repo().await.unwrap();
    assert_eq!(stats, vec![("/r/one".to_string(), 1, 1, 100)]);
    db.finish().await;
}
both!(upserts_are_idempotent);

/// An unknown diffstat (a partial clone) never overwrites a known one (a full clone elsewhere);
/// a known one fills an unknown one in; a change that moved to another head takes its new
/// numbers whatever they are. Unknown reads back as unknown, not 0.
async fn unknown_diffstats_never_overwrite_known_ones(db: TestDb) {
    let s = &db.store;
    let commit = |stat: Option<(i64, i64, i64)>| Commit {
        repo: "r".into(),
        sha: "abc".into(),
        author_name: "A".into(),
        author_email: "a@x".into(),
        authored_at: 100,
        committed_at: 100,
        summary: "s".into(),
        agent: None,
        files_changed: stat.map(|s| s.0),
        insertions: stat.map(|s| s.1),
        deletions: stat.map(|s| s.2),
    };
    let stored = || async {
        let c = &s.commits_between(0, 1_000).await.unwrap()[0];
        (c.files_changed, c.insertions, c.deletions)
    };
    s.upsert_commits(&[commit(None)]).await.unwrap();
    assert_eq!(stored().await, (None, None, None));
    s.upsert_commits(&[commit(Some((2, 5, 1)))]).await.unwrap();
    assert_eq!(stored().await, (Some(2), Some(5), Some(1)));
    s.upsert_commits(&[commit(None)]).await.unwrap();
    assert_eq!(stored().await, (Some(2), Some(5), Some(1)));

    let change = |sha: &str, stat: Option<(i64, i64, i64)>| ChangeRequest {
        files_changed: stat.map(|s| s.0),
        insertions: stat.map(|s| s.1),
        deletions: stat.map(|s| s.2),
        state: ChangeState::Open,
        ..support::merged_change(
            "r",
            "claude/x",
            sha,
            Author::Agent {
                agent: "claude-code".into(),
            },
            100,
        )
    };
    let lines = || async {
        let c = &s.change_requests().await.unwrap()[0];
        (c.files_changed, c.insertions, c.deletions)
    };
    s.upsert_change_request(&change("h1", Some((1, 10, 0))))
        .await
        .unwrap();
    s.upsert_change_request(&change("h1", None)).await.unwrap();
    assert_eq!(
        lines().await,
        (Some(1), Some(10), Some(0)),
        "same head: kept"
    );
    s.upsert_change_request(&change("h2", None)).await.unwrap();
    assert_eq!(
        lines().await,
        (None, None, None),
        "a new head: its own numbers"
    );
    // A partly known diffstat is not known.
    let mut partial = change("h3", Some((1, 2, 3)));
    partial.files_changed = None;
    s.upsert_change_request(&partial).await.unwrap();
    assert_eq!(lines().await, (None, None, None));
    db.finish().await;
}
both!(unknown_diffstats_never_overwrite_known_ones);

async fn branches_are_replaced_not_accumulated(db: TestDb) {
    let s = &db.store;
    let b = |name: &str| Branch {
        repo: "/r".into(),
        name: name.into(),
        head_sha: "1".into(),
        agent: None,
        ahead: 0,
        behind: 0,
        worktree_path: None,
        updated_at: 1,
    };
    s.replace_branches("/r", "m:/r", &[b("main"), b("claude/x")])
        .await
        .unwrap();
    s.replace_branches("/r", "m:/r", &[b("main")])
        .await
        .unwrap();
    let names: Vec<String> = s
        .branches()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, vec!["main"]);
    db.finish().await;
}
both!(branches_are_replaced_not_accumulated);

async fn round_trips_every_noun(db: TestDb) {
    let s = &db.store;
    let run = AgentRun {
        id: "codex:1".into(),
        agent: "codex".into(),
        session_id: "1".into(),
        model: "gpt-5".into(),
        cwd: "/r".into(),
        repo: Some("/r".into()),
        branch: Some("codex/x".into()),
        title: "t".into(),
        started_at: 5,
        ended_at: 9,
        state: RunState::Finished,
        turns: 2,
        tool_calls: 3,
        errors: 1,
        files_touched: 2,
        models: vec!["gpt-5".into(), "gpt-5-mini".into()],
        tokens: Tokens {
            input: 1,
            output: 2,
            cache_write: 3,
            cache_read: 4,
            reasoning: 1,
        },
        cost_usd: 0.25,
        source_path: "/l.jsonl".into(),
        skipped_lines: 1,
    };
    s.upsert_agent_run(&run).await.unwrap();
    s.upsert_agent_run(&run).await.unwrap();
    assert_eq!(s.agent_runs().await.unwrap(), vec![run]);

    let cr = ChangeRequest {
        id: "local:/r:codex/x".into(),
        kind: ChangeKind::Local,
        repo: "/r".into(),
        title: "Fix".into(),
        head: "codex/x".into(),
        base: "main".into(),
        head_sha: "h".into(),
        author: Author::Agent {
            agent: "codex".into(),
        },
        state: ChangeState::Open,
        created_at: 1,
        updated_at: 2,
        commits: 1,
        files_changed: Some(1),
        insertions: Some(1),
        deletions: Some(0),
        agent_cost_usd: 0.0,
        labels: vec!["agent".into(), "needs, care".into()],
        requested_reviewers: vec!["lead".into()],
        mergeable: Some(flightdeck_core::model::Mergeable::Clean),
        merged_at: None,
        first_commit_at: None,
    };
    s.upsert_change_request(&cr).await.unwrap();
    let got = s.change_requests().await.unwrap();
    // The agent cost is the linked run's (same repo and branch).
    assert_eq!(
        got,
        vec![ChangeRequest {
            agent_cost_usd: 0.25,
            ..cr.clone()
        }]
    );
    let gone = s
        .vanished_local_changes(&cr.repo, "m:/r", &[])
        .await
        .unwrap();
    assert_eq!(gone.len(), 1);
    s.close_change(&gone[0].id).await.unwrap();
    assert_eq!(
        s.change_requests().await.unwrap()[0].state,
        ChangeState::Closed
    );

    let check = Check {
        change_request: cr.id.clone(),
        name: "ci".into(),
        status: "completed".into(),
        conclusion: Some("failure".into()),
        url: None,
        ever_failed: false,
    };
    s.upsert_check(&check).await.unwrap();
    // The store marks a failure as one, and keeps the mark when a re-run or push passes it.
    let failed = Check {
        ever_failed: true,
        ..check.clone()
    };
    assert_eq!(s.checks().await.unwrap(), vec![failed.clone()]);
    let passed = Check {
        conclusion: Some("success".into()),
        ..check.clone()
    };
    s.upsert_check(&passed).await.unwrap();
    let got = s.checks().await.unwrap();
    assert_eq!(got[0].conclusion.as_deref(), Some("success"));
    assert!(got[0].ever_failed, "{got:?}");
    // A check that never failed is not marked.
    let lint = Check {
        name: "lint".into(),
        ..passed.clone()
    };
    s.upsert_check(&lint).await.unwrap();
    assert!(!s.checks().await.unwrap()[1].ever_failed);

    let d = Deployment {
        id: "d1".into(),
        repo: "/r".into(),
        environment: "prod".into(),
        sha: "h".into(),
        status: DeployStatus::Success,
        created_at: 3,
        source: "test".into(),
        contents: flightdeck_core::model::Contents::Unknown,
    };
    s.upsert_deployment(&d).await.unwrap();
    assert_eq!(s.deployments().await.unwrap(), vec![d]);

    let r = Release {
        id: "r1".into(),
        repo: "/r".into(),
        environment: "prod".into(),
        name: "v1".into(),
        state: ReleaseState::Pending,
        created_at: 4,
        approved_by: None,
        sha: Some("abc".into()),
        run_id: Some(9077),
        decided_at: None,
        reason: Some("because".into()),
    };
    s.upsert_release(&r).await.unwrap();
    assert_eq!(s.releases().await.unwrap(), vec![r]);

    let e = Experiment {
        id: "e1".into(),
        name: "E".into(),
        metric: "m".into(),
        state: flightdeck_core::model::ExperimentState::Running,
        started_at: 1,
        variants: vec![
            Variant {
                name: "a".into(),
                units: 10,
                conversions: 1,
                weight: Some(0.5),
            },
            Variant {
                name: "b".into(),
                units: 12,
                conversions: 3,
                weight: Some(0.5),
            },
        ],
    };
    s.upsert_experiment(&e).await.unwrap();
    s.upsert_experiment(&e).await.unwrap();
    assert_eq!(s.experiments().await.unwrap(), vec![e]);

    let sp = SpendRecord {
        vendor: "openai".into(),
        model: "gpt-5".into(),
        day: "2026-11-01".into(),
        source: "logs".into(),
        agent: "codex".into(),
        repo: "/r".into(),
        person: "alice".into(),
        tokens: Tokens {
            input: 1,
            output: 1,
            cache_write: 0,
            cache_read: 0,
            reasoning: 0,
        },
        cost_usd: 1.5,
        unpriced_tokens: 7,
    };
    s.replace_spend_source("logs", std::slice::from_ref(&sp))
        .await
        .unwrap();
    s.replace_spend_source("logs", std::slice::from_ref(&sp))
        .await
        .unwrap();
    assert_eq!(s.spend_records().await.unwrap(), vec![sp]);

    let w = WorkItem {
        id: "w1".into(),
        title: "Task".into(),
        body: "Do it".into(),
        repo: None,
        assignee: Some("agent:codex".into()),
        state: WorkState::Todo,
        source: flightdeck_core::model::WorkSource::Cockpit,
        labels: vec!["bug".into(), "agent:codex, \"quoted\"".into()],
        created_at: 1,
        updated_at: 1,
        links: vec![flightdeck_core::model::WorkLink {
            kind: WorkLinkKind::Branch,
            target: "codex/task".into(),
        }],
    };
    s.upsert_work_item(&w).await.unwrap();
    assert_eq!(s.work_items().await.unwrap(), vec![w]);

    let a = Action {
        idempotency_key: "k1".into(),
        kind: ActionKind::Approve,
        target: cr.id.clone(),
        payload: "{}".into(),
        actor: "lead".into(),
        state: ActionState::Queued,
        attempts: 0,
        last_error: None,
        result: None,
        created_at: 1,
        next_attempt_at: 0,
        applied_at: None,
    };
    assert!(s.enqueue_action(&a).await.unwrap());
    assert!(
        !s.enqueue_action(&a).await.unwrap(),
        "same key must not queue twice"
    );
    assert_eq!(s.actions().await.unwrap(), vec![a]);

    let keys = tempfile::tempdir().unwrap();
    use flightdeck_core::model::audit::{AuditKey, Decision};
    let key = AuditKey::load_or_create(&keys.path().join("audit-key")).unwrap();
    let e1 = s
        .append_audit(
            &key,
            &Decision {
                at: 1,
                actor: "lead",
                action: "approve",
                target: &cr.id,
                detail: "ok",
            },
        )
        .await
        .unwrap();
    let e2 = s
        .append_audit(
            &key,
            &Decision {
                at: 2,
                actor: "lead",
                action: "merge",
                target: &cr.id,
                detail: "ok",
            },
        )
        .await
        .unwrap();
    assert_eq!(e2.prev_hash, e1.hash);
    assert_ne!(e1.hash, e2.hash);
    assert_eq!(s.audit_entries().await.unwrap(), vec![e2, e1]);

    let c = s.counts().await.unwrap();
    assert_eq!(
        (c.agent_runs, c.change_requests, c.audit_entries, c.actions),
        (1, 1, 2, 1)
    );
    db.finish().await;
}
both!(round_trips_every_noun);

/// A state this version does not know (a newer Flightdeck on a shared database wrote it) is an
/// error naming the column and the value, never read as some other state; the known states
/// each round-trip under the name the UI's types use.
async fn an_unknown_state_is_named_not_guessed(db: TestDb) {
    let s = &db.store;
    for (i, state) in ChangeState::ALL.iter().enumerate() {
        let cr = ChangeRequest {
            state: *state,
            ..support::merged_change(
                "/r",
                &format!("b{i}"),
                "h",
                Author::Human { name: "Ann".into() },
                1,
            )
        };
        s.upsert_change_request(&cr).await.unwrap();
        let got = s.change_request(&cr.id).await.unwrap().unwrap();
        assert_eq!(got.state, *state);
        assert_eq!(
            serde_json::to_value(got.state).unwrap(),
            serde_json::json!(state.as_str())
        );
    }
    sqlx::query("UPDATE change_requests SET state = 'parked' WHERE id = 'local:/r:b0'")
        .execute(s.pool())
        .await
        .unwrap();
    let e = s.change_requests().await.unwrap_err().to_string();
    assert!(
        e.contains("change state `parked`") && e.contains("open, merged, closed"),
        "{e}"
    );
    // The rows it does know still read one by one.
    assert_eq!(
        s.change_request("local:/r:b1")
            .await
            .unwrap()
            .unwrap()
            .state,
        ChangeState::Merged
    );
    // A nullable name: none stays none, each known one reads back, a foreign one is named.
    for m in [None, Some(Mergeable::Conflicts), Some(Mergeable::Draft)] {
        let cr = ChangeRequest {
            mergeable: m,
            ..s.change_request("local:/r:b1").await.unwrap().unwrap()
        };
        s.upsert_change_request(&cr).await.unwrap();
        let got = s.change_request("local:/r:b1").await.unwrap().unwrap();
        assert_eq!(got.mergeable, m);
    }
    sqlx::query("UPDATE change_requests SET mergeable = 'dirty' WHERE id = 'local:/r:b1'")
        .execute(s.pool())
        .await
        .unwrap();
    let e = s
        .change_request("local:/r:b1")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mergeable state `dirty`") && e.contains("clean, conflicts"),
        "{e}"
    );
    db.finish().await;
}
both!(an_unknown_state_is_named_not_guessed);

/// The whole demo through the real ingest, twice: the second pass must change nothing.
async fn demo_ingest_is_complete_and_idempotent(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let now = 1_790_000_000;
    let ws = demo::build(dir.path(), now).unwrap();
    let first = ingest::run(&db.store, &ws.sources(), None, now)
        .await
        .unwrap();
    assert_eq!(first.repos, 3);
    assert!(first.new_commits > 200, "months of history: {first:?}");
    assert!(
        first.skipped_lines >= 1,
        "the demo has a truncated log line: {first:?}"
    );
    // The month's agent branches land (squash-merged or dropped) and are read again.
    demo::seed_unsourced(&db.store, &ws, now).await.unwrap();
    let counts = db.store.counts().await.unwrap();
    let second = ingest::run(&db.store, &ws.sources(), None, now)
        .await
        .unwrap();
    assert_eq!(
        second.new_commits, 0,
        "incremental: nothing new the second time"
    );
    assert_eq!(db.store.counts().await.unwrap(), counts);

    let mut changes = views::changes(&db.store, None).await.unwrap();
    changes
        .changes
        .retain(|c| c.change.state == flightdeck_core::model::ChangeState::Open);
    let heads: Vec<&str> = changes
        .changes
        .iter()
        .map(|c| c.change.head.as_str())
        .collect();
    assert_eq!(changes.changes.len(), 6, "{heads:?}");
    assert!(
        heads.contains(&"claude/add-rate-limiting")
            && heads.contains(&"codex/retry-failed-webhooks")
    );
    assert!(
        changes.changes.iter().all(|c| !c.runs.is_empty()),
        "every agent branch has its session"
    );
    assert!(changes
        .changes
        .iter()
        .all(|c| c.change.agent_cost_usd > 0.0));

    let repos = views::repos(&db.store).await.unwrap();
    let wt: Vec<_> = repos
        .repos
        .iter()
        .flat_map(|r| &r.branches)
        .filter_map(|b| b.worktree_path.clone())
        .collect();
    assert_eq!(wt.len(), 1, "one linked worktree");
    let agents = views::agents(&db.store).await.unwrap();
    assert_eq!(
        agents
            .agents
            .iter()
            .map(|a| a.agent.as_str())
            .collect::<Vec<_>>(),
        ["claude-code", "codex"]
    );
    assert_eq!(
        agents.agents.iter().map(|a| a.running).sum::<i64>(),
        1,
        "one live session"
    );
    let spend = views::spend(&db.store).await.unwrap();
    assert!(spend.total_usd > 1.0);
    let vendors: Vec<&str> = spend.by_vendor.iter().map(|v| v.key.as_str()).collect();
    assert!(
        vendors.contains(&"anthropic") && vendors.contains(&"openai"),
        "{vendors:?}"
    );
    let velocity = views::velocity(&db.store, now, 26).await.unwrap();
    assert!(velocity.agent_share > 0.1 && velocity.agent_share < 0.9);

    // One story: the month's merged agent changes carry their runs' cost, and only the few
    // dropped tasks' runs count as abandoned.
    let v = flightdeck_core::metrics::value::value(&db.store, now - 30 * 86_400, now)
        .await
        .unwrap();
    assert!(v.merged_changes >= 10, "{v:?}");
    assert!(v.cost_per_merged_change.is_some_and(|c| c > 0.0), "{v:?}");
    assert!(
        v.abandoned_runs >= 1 && v.abandoned_runs * 3 < v.merged_changes,
        "{v:?}"
    );
    let merged_agent = db
        .store
        .change_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.state == flightdeck_core::model::ChangeState::Merged)
        .filter(|c| matches!(c.author, flightdeck_core::model::Author::Agent { .. }))
        .collect::<Vec<_>>();
    assert!(
        merged_agent.iter().all(|c| c.agent_cost_usd > 0.0),
        "every merged agent change has its runs: {:?}",
        merged_agent
            .iter()
            .filter(|c| c.agent_cost_usd == 0.0)
            .map(|c| &c.id)
            .collect::<Vec<_>>()
    );

    // The demo's three experiments read as they are meant to.
    use flightdeck_core::domain::experiments::scorecard;
    use flightdeck_core::stats::scorecard::Outcome;
    let card = |id: &'static str| {
        let store = db.store.clone();
        async move { scorecard(&store, id, now).await.unwrap().unwrap() }
    };
    let win = card("agent-pr-template").await;
    assert_eq!(win.metrics[0].variations[0].verdict, Outcome::Win);
    assert_eq!(
        win.metrics[1].variations[0].verdict,
        Outcome::Flat,
        "the guardrail holds"
    );
    assert_eq!(
        win.ready.as_deref(),
        Some("treatment wins on first_pass_approval")
    );
    let peeked = card("checkout-cta").await;
    let v = &peeked.metrics[0].variations[0];
    assert!(
        v.lift.unwrap().p_value < 0.05,
        "a one-look test calls it: {:?}",
        v.lift
    );
    assert!(v.sequential.unwrap().p_value >= 0.05, "{:?}", v.sequential);
    assert_eq!(v.verdict, Outcome::Flat);
    assert_eq!(peeked.ready, None);
    let srm = card("pricing-page").await;
    assert!(srm.srm && srm.ready.is_none(), "p = {}", srm.srm_p_value);
    assert!(!win.srm && !peeked.srm);
    db.finish().await;
}
both!(demo_ingest_is_complete_and_idempotent);

#[tokio::test]
async fn corrupt_sqlite_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.db");
    std::fs::write(
        &path,
        b"this is not a database, just text that fills a page ....",
    )
    .unwrap();
    let err = flightdeck_core::store::Store::open(&path.display().to_string())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DatabaseCorrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("bad.db"), "{err}");
}

#[tokio::test]
async fn unwritable_sqlite_location_is_named_in_the_error() {
    // A directory where the file should be, and a path under /proc: neither can hold a
    // database, even for root.
    let dir = tempfile::tempdir().unwrap();
    let err = flightdeck_core::store::Store::open(&dir.path().display().to_string())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DatabaseUnwritable { .. }), "{err:?}");
    let err = flightdeck_core::store::Store::open("sqlite:///proc/flightdeck/x.db")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DatabaseUnwritable { .. }), "{err:?}");
    assert!(err.to_string().contains("/proc/flightdeck/x.db"), "{err}");
}

#[tokio::test]
async fn sqlite_uses_wal() {
    let db = TestDb::sqlite().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    db.finish().await;
}
