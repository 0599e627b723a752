//! The outbox on SQLite and PostgreSQL: local reviews and merges applied and audited; a crash
//! between sending and recording the answer does not apply twice; transient failures wait and
//! retry; and under a forge that loses answers at random every action lands exactly once.

mod support;

use std::collections::HashMap;
use std::sync::Mutex;

use flightdeck_core::domain::outbox::{self, Applier, Checked, LocalApplier, Outcome, Payload};
use flightdeck_core::model::audit::{self, AuditKey};
use flightdeck_core::model::{Action, ActionKind, ActionState, ChangeState, Mergeable};
use flightdeck_core::views::InboxKind;
use support::{both, commit_file, tree_commit, TestDb};

const NOW: i64 = 1_790_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    repo: git2::Repository,
    path: String,
    key: AuditKey,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(&path, &init).unwrap();
    commit_file(&repo, "main", "README.md", "# app\n", "Initial commit");
    let key = AuditKey::load_or_create(&dir.path().join("audit-key")).unwrap();
    Fixture {
        path: path.display().to_string(),
        _dir: dir,
        repo,
        key,
    }
}

/// An agent branch one commit ahead of main, made without touching main's work tree.
fn agent_branch(f: &Fixture, branch: &str) -> String {
    tree_commit(&f.repo, branch, "Add feature", |r, tb| {
        tb.insert("feature.rs", r.blob(b"// feature\n").unwrap(), 0o100644)
            .unwrap();
    })
}

fn payload(f: &Fixture, branch: &str, sha: &str) -> Payload {
    Payload {
        repo: f.path.clone(),
        head: branch.into(),
        base: "main".into(),
        sha: sha.into(),
        ..Default::default()
    }
}

fn local(db: &TestDb) -> LocalApplier {
    LocalApplier {
        store: db.store.clone(),
        name: "Alice Lead".into(),
        email: "alice@acme.dev".into(),
    }
}

fn main_tip(f: &Fixture) -> String {
    f.repo
        .revparse_single("refs/heads/main")
        .unwrap()
        .id()
        .to_string()
}

async fn state_of(db: &TestDb, a: &Action) -> Action {
    db.store
        .actions()
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.idempotency_key == a.idempotency_key)
        .unwrap()
}

async fn local_actions_apply_and_are_audited(db: TestDb) {
    let f = fixture();
    let sha = agent_branch(&f, "claude/feature");
    let id = format!("local:{}:claude/feature", f.path);
    let p = payload(&f, "claude/feature", &sha);
    let approve = outbox::enqueue(&db.store, ActionKind::Approve, &id, &p, "alice", NOW)
        .await
        .unwrap();
    let merge = outbox::enqueue(&db.store, ActionKind::Merge, &id, &p, "alice", NOW + 1)
        .await
        .unwrap();
    let report = outbox::sync(&db.store, &local(&db), &f.key, NOW + 2)
        .await
        .unwrap();
    assert_eq!((report.applied, report.failed, report.retrying), (2, 0, 0));
    assert_eq!(state_of(&db, &approve).await.state, ActionState::Applied);
    let m = state_of(&db, &merge).await;
    assert_eq!(m.state, ActionState::Applied);
    assert_eq!(
        m.result.as_deref(),
        Some(&*format!("fast-forward to {sha}"))
    );
    assert_eq!(main_tip(&f), sha);
    let reviews = db.store.reviews().await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        (reviews[0].state.as_str(), reviews[0].head_sha.as_str()),
        ("approved", sha.as_str())
    );

    // Both outcomes are in the signed audit log, naming the action.
    let entries = db.store.audit_entries().await.unwrap();
    let v = audit::verify(&entries, &[f.key.public_hex()], &[]);
    assert!(v.ok(), "{:?}", v.problems);
    let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["approve applied", "merge applied"]);
    assert!(entries[0].detail.contains(&merge.idempotency_key));

    // Nothing is due any more: a second sync sends nothing.
    let again = outbox::sync(&db.store, &local(&db), &f.key, NOW + 3)
        .await
        .unwrap();
    assert_eq!(again, outbox::SyncReport::default());
    db.finish().await;
}
both!(local_actions_apply_and_are_audited);

async fn a_crash_after_sending_is_not_sent_twice(db: TestDb) {
    let f = fixture();
    let sha = agent_branch(&f, "claude/feature");
    // main moves, so the merge makes a new commit: a second merge would make another.
    commit_file(&f.repo, "main", "other.rs", "// other\n", "Meanwhile");
    let id = format!("local:{}:claude/feature", f.path);
    let p = payload(&f, "claude/feature", &sha);
    let merge = outbox::enqueue(&db.store, ActionKind::Merge, &id, &p, "alice", NOW)
        .await
        .unwrap();
    let review = outbox::enqueue(&db.store, ActionKind::Comment, &id, &p, "alice", NOW)
        .await
        .unwrap();

    // A sender claims both and applies them, then dies before recording anything.
    let applier = local(&db);
    for a in [&merge, &review] {
        assert!(db
            .store
            .claim_action(&a.idempotency_key, NOW, NOW + outbox::LEASE_SECS)
            .await
            .unwrap());
        let claimed = state_of(&db, a).await;
        assert!(matches!(
            applier.apply(&claimed, &p).await,
            Outcome::Applied(_)
        ));
    }
    let merged_tip = main_tip(&f);

    // While the lease holds, nobody else sends them.
    let r = outbox::sync(&db.store, &applier, &f.key, NOW + 1)
        .await
        .unwrap();
    assert_eq!(r, outbox::SyncReport::default());

    // After it runs out, the restart looks first and finds both done.
    let r = outbox::sync(&db.store, &applier, &f.key, NOW + outbox::LEASE_SECS + 1)
        .await
        .unwrap();
    assert_eq!((r.confirmed, r.applied), (2, 0), "{r:?}");
    assert_eq!(main_tip(&f), merged_tip, "no second merge commit");
    assert_eq!(db.store.reviews().await.unwrap().len(), 1);
    let m = state_of(&db, &merge).await;
    assert_eq!((m.state.as_str(), m.attempts), ("applied", 2));
    assert!(m
        .result
        .unwrap()
        .starts_with("found done: main already contains"));
    db.finish().await;
}
both!(a_crash_after_sending_is_not_sent_twice);

async fn a_refused_merge_fails_with_its_reason(db: TestDb) {
    let f = fixture();
    let sha = agent_branch(&f, "claude/feature");
    let id = format!("local:{}:claude/feature", f.path);
    // Reviewed at an older commit: the branch moved on since.
    let stale = f
        .repo
        .revparse_single("refs/heads/main")
        .unwrap()
        .id()
        .to_string();
    let p = payload(&f, "claude/feature", &stale);
    let merge = outbox::enqueue(&db.store, ActionKind::Merge, &id, &p, "alice", NOW)
        .await
        .unwrap();
    let r = outbox::sync(&db.store, &local(&db), &f.key, NOW)
        .await
        .unwrap();
    assert_eq!(r.failed, 1);
    let m = state_of(&db, &merge).await;
    assert_eq!(m.state, ActionState::Failed);
    assert!(
        m.last_error
            .as_deref()
            .unwrap()
            .contains("moved since it was reviewed"),
        "{:?}",
        m.last_error
    );
    assert_ne!(main_tip(&f), sha);
    let entries = db.store.audit_entries().await.unwrap();
    assert_eq!(entries[0].action, "merge failed");
    // The lead hears of it first thing in the inbox.
    let inbox = flightdeck_core::views::inbox(&db.store).await.unwrap();
    let first = &inbox.items[0];
    assert_eq!(first.kind, InboxKind::ActionFailed);
    assert!(
        first.detail.contains("moved since it was reviewed"),
        "{first:?}"
    );
    db.finish().await;
}
both!(a_refused_merge_fails_with_its_reason);

/// A forge that applies each action but, at random, fails before applying (an outage), or
/// applies and then loses the answer (a timeout). It counts what it really applied.
struct FlakyForge {
    applied: Mutex<HashMap<String, usize>>,
    rng: Mutex<u64>,
}

impl FlakyForge {
    fn roll(&self) -> u64 {
        let mut s = self.rng.lock().unwrap();
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s % 10
    }
}

impl Applier for FlakyForge {
    async fn check(&self, a: &Action, _: &Payload) -> Checked {
        if self.roll() < 2 {
            return Checked::Unknown("forge unreachable".into());
        }
        match self.applied.lock().unwrap().get(&a.idempotency_key) {
            Some(_) => Checked::Done("present on the forge".into()),
            None => Checked::NotDone,
        }
    }

    async fn apply(&self, a: &Action, _: &Payload) -> Outcome {
        match self.roll() {
            0..=2 => Outcome::Retry("503 Service Unavailable".into()),
            3..=4 => {
                *self
                    .applied
                    .lock()
                    .unwrap()
                    .entry(a.idempotency_key.clone())
                    .or_default() += 1;
                Outcome::Retry("timed out waiting for the answer".into())
            }
            _ => {
                *self
                    .applied
                    .lock()
                    .unwrap()
                    .entry(a.idempotency_key.clone())
                    .or_default() += 1;
                Outcome::Applied("ok".into())
            }
        }
    }
}

async fn lost_answers_never_apply_twice(db: TestDb) {
    let f = fixture();
    let forge = FlakyForge {
        applied: Mutex::new(HashMap::new()),
        rng: Mutex::new(0x9e37_79b9_7f4a_7c15),
    };
    let mut keys = Vec::new();
    for i in 0..200 {
        let p = Payload {
            sha: format!("{i:040x}"),
            ..Default::default()
        };
        let a = outbox::enqueue(
            &db.store,
            ActionKind::Approve,
            &format!("cr{i}"),
            &p,
            "alice",
            NOW,
        )
        .await
        .unwrap();
        keys.push(a.idempotency_key);
    }
    let mut now = NOW;
    for _ in 0..200 {
        outbox::sync(&db.store, &forge, &f.key, now).await.unwrap();
        if db
            .store
            .actions()
            .await
            .unwrap()
            .iter()
            .all(|a| a.state == ActionState::Applied)
        {
            break;
        }
        now += 1_801; // past the longest backoff
    }
    let actions = db.store.actions().await.unwrap();
    assert!(actions.iter().all(|a| a.state == ActionState::Applied));
    let applied = forge.applied.lock().unwrap().clone();
    for k in &keys {
        assert_eq!(
            applied.get(k),
            Some(&1),
            "action {k} applied {:?} times",
            applied.get(k)
        );
    }
    assert!(
        actions.iter().any(|a| a.attempts > 1),
        "the forge's failures were exercised"
    );
    db.finish().await;
}
both!(lost_answers_never_apply_twice);

/// The background sender applies what is queued without anyone running `sync`, and says so
/// on the event bus.
#[tokio::test]
async fn the_background_sender_applies_queued_actions() {
    let db = TestDb::sqlite().await;
    let f = fixture();
    let sha = agent_branch(&f, "claude/feature");
    let id = format!("local:{}:claude/feature", f.path);
    let a = outbox::enqueue(
        &db.store,
        ActionKind::Approve,
        &id,
        &payload(&f, "claude/feature", &sha),
        "alice",
        1,
    )
    .await
    .unwrap();
    let bus = flightdeck_core::model::events::EventBus::new();
    let mut rx = bus.subscribe();
    let key_path = f._dir.path().join("audit-key");
    let appliers = outbox::Appliers {
        local: local(&db),
        github: None,
        growthbook: None,
        reach: Default::default(),
    };
    let sender = outbox::spawn_sender(
        db.store.clone(),
        bus.clone(),
        key_path,
        appliers,
        std::time::Duration::from_millis(50),
    );
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .unwrap();
    let flightdeck_core::model::events::Event::Changed { source, .. } = event;
    assert_eq!(source, "outbox");
    assert_eq!(state_of(&db, &a).await.state, ActionState::Applied);
    sender.abort();
    db.finish().await;
}

/// A decision announced on the bus wakes the sender at once: it does not wait for its next
/// round (an hour here), so a decision queued behind a slow forge still goes out promptly.
#[tokio::test]
async fn a_decision_wakes_the_background_sender() {
    use flightdeck_core::model::events::{Event, EventBus};
    let db = TestDb::sqlite().await;
    let f = fixture();
    let sha = agent_branch(&f, "claude/feature");
    let id = format!("local:{}:claude/feature", f.path);
    let bus = EventBus::new();
    let mut rx = bus.subscribe();
    let sender = outbox::spawn_sender(
        db.store.clone(),
        bus.clone(),
        f._dir.path().join("audit-key"),
        appliers(&db),
        std::time::Duration::from_secs(3600),
    );
    let a = outbox::enqueue(
        &db.store,
        ActionKind::Approve,
        &id,
        &payload(&f, "claude/feature", &sha),
        "alice",
        1,
    )
    .await
    .unwrap();
    // Not a decision: the sender sleeps on.
    bus.publish(Event::Changed {
        source: "ingest".into(),
        topics: vec!["changes".into()],
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(state_of(&db, &a).await.state, ActionState::Queued);
    bus.publish(Event::Changed {
        source: "actions".into(),
        topics: vec!["outbox".into()],
    });
    let sent = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Ok(Event::Changed { source, .. }) = rx.recv().await {
                if source == "outbox" {
                    break;
                }
            }
        }
    })
    .await;
    assert!(sent.is_ok(), "the sender answered the decision within 10 s");
    assert_eq!(state_of(&db, &a).await.state, ActionState::Applied);
    sender.abort();
    db.finish().await;
}

/// Other events (a running agent publishes several a second) do not put the sender's sweep
/// off: what is due goes out on the next tick even while the bus is busy.
#[tokio::test]
async fn the_sweep_is_not_put_off_by_other_events() {
    use flightdeck_core::model::events::{Event, EventBus};
    let db = TestDb::sqlite().await;
    let f = fixture();
    let sha = agent_branch(&f, "claude/feature");
    let id = format!("local:{}:claude/feature", f.path);
    let bus = EventBus::new();
    let sender = outbox::spawn_sender(
        db.store.clone(),
        bus.clone(),
        f._dir.path().join("audit-key"),
        appliers(&db),
        std::time::Duration::from_millis(400),
    );
    let a = outbox::enqueue(
        &db.store,
        ActionKind::Approve,
        &id,
        &payload(&f, "claude/feature", &sha),
        "alice",
        1,
    )
    .await
    .unwrap();
    let mut applied = false;
    for _ in 0..200 {
        bus.publish(Event::Changed {
            source: "work".into(),
            topics: vec!["work".into()],
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if state_of(&db, &a).await.state == ActionState::Applied {
            applied = true;
            break;
        }
    }
    assert!(
        applied,
        "the sweep never ran while other events kept coming"
    );
    sender.abort();
    db.finish().await;
}

fn appliers(db: &TestDb) -> outbox::Appliers {
    outbox::Appliers {
        local: local(db),
        github: None,
        growthbook: None,
        reach: Default::default(),
    }
}

async fn change_state(db: &TestDb, id: &str) -> ChangeState {
    db.store.change_request(id).await.unwrap().unwrap().state
}

/// A merge (squash or rebase: the branch stays ahead of main) or a close holds across rescans
/// while the branch stays where it was decided; new commits on the branch reopen it.
async fn merged_and_closed_local_changes_stay_so_across_rescans(db: TestDb) {
    let f = fixture();
    let policy = f._dir.path().join("policy.toml");
    std::fs::write(&policy, "[default]\nagent_approvals = 0\n").unwrap();
    for branch in [
        "claude/squash",
        "codex/rebase",
        "codex/dropped",
        "claude/merged",
    ] {
        tree_commit(&f.repo, branch, &format!("Work on {branch}"), |r, tb| {
            let name = format!("{}.rs", branch.replace('/', "-"));
            tb.insert(&name, r.blob(b"// work\n").unwrap(), 0o100644)
                .unwrap();
        });
    }
    tree_commit(&f.repo, "codex/clash", "Other, the agent's way", |r, tb| {
        tb.insert("other.rs", r.blob(b"// agent's\n").unwrap(), 0o100644)
            .unwrap();
    });
    commit_file(&f.repo, "main", "other.rs", "// other\n", "Meanwhile");
    let sources = flightdeck_core::domain::ingest::Sources {
        repos: vec![f.path.clone().into()],
        ..Default::default()
    };
    let scan = |now| flightdeck_core::domain::ingest::run(&db.store, &sources, None, now);
    scan(NOW).await.unwrap();
    let repo = support::repo_id(&f.path);
    let id = |b: &str| format!("local:{repo}:{b}");
    let mergeable = |b: &str| {
        let id = id(b);
        let store = &db.store;
        async move { store.change_request(&id).await.unwrap().unwrap().mergeable }
    };
    assert_eq!(mergeable("claude/squash").await, Some(Mergeable::Clean));
    assert_eq!(mergeable("codex/clash").await, Some(Mergeable::Conflicts));
    let ap = appliers(&db);
    let decide = |target: String, kind: &str, method: Option<&str>| {
        let d = outbox::Decide {
            kind: kind.into(),
            method: method.map(str::to_string),
            ..Default::default()
        };
        let (store, key, ap, policy) = (&db.store, &f.key, &ap, &policy);
        async move { outbox::decide(store, key, ap, policy, &target, &d, lead(), NOW + 1).await }
    };
    // Judged while open, as the Changes view does (its paths are kept for later).
    flightdeck_core::views::changes(&db.store, Some(&policy))
        .await
        .unwrap();
    // A head the lead did not see is not decided: nothing is queued.
    let shown_elsewhere = outbox::Decide {
        kind: "merge".into(),
        method: Some("squash".into()),
        head_sha: Some("0123456789abcdef".into()),
        ..Default::default()
    };
    let before = db.store.actions().await.unwrap().len();
    let e = outbox::decide(
        &db.store,
        &f.key,
        &ap,
        &policy,
        &id("claude/squash"),
        &shown_elsewhere,
        lead(),
        NOW + 1,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, outbox::DecideError::Moved { .. }) && e.to_string().contains("0123456789ab"),
        "{e}"
    );
    assert_eq!(db.store.actions().await.unwrap().len(), before);
    // With the front end's own key (a phone's decision): applied once; sent again with that key
    // after it merged (the answer was lost), the same action comes back and nothing is queued.
    let keyed = outbox::Decide {
        kind: "merge".into(),
        method: Some("squash".into()),
        idempotency_key: Some("phone-7f3a9c1e2b4d".into()),
        ..Default::default()
    };
    let send = |d: outbox::Decide| {
        let (store, key, ap, policy) = (&db.store, &f.key, &ap, &policy);
        async move {
            outbox::decide(
                store,
                key,
                ap,
                policy,
                &id("claude/squash"),
                &d,
                lead(),
                NOW + 1,
            )
            .await
        }
    };
    let first = send(keyed.clone()).await.unwrap();
    assert_eq!(first.idempotency_key, "phone-7f3a9c1e2b4d");
    assert_eq!(first.state, ActionState::Applied, "{:?}", first.last_error);
    assert!(first.result.clone().unwrap().starts_with("squash"));
    let count = db.store.actions().await.unwrap().len();
    let again = send(keyed.clone()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(db.store.actions().await.unwrap().len(), count);
    // The key of another decision, or a key that is no key: refused, nothing queued.
    let e = send(outbox::Decide {
        kind: "close".into(),
        ..keyed.clone()
    })
    .await
    .unwrap_err();
    assert!(matches!(e, outbox::DecideError::KeyReused { .. }), "{e}");
    let e = send(outbox::Decide {
        idempotency_key: Some("short".into()),
        ..keyed
    })
    .await
    .unwrap_err();
    assert!(matches!(e, outbox::DecideError::BadKey(_)), "{e}");
    assert_eq!(db.store.actions().await.unwrap().len(), count);
    for (branch, method) in [("codex/rebase", "rebase"), ("claude/merged", "merge")] {
        let a = decide(id(branch), "merge", Some(method)).await.unwrap();
        // (decided without `head_sha`, as the CLI does; the UI sends the head it showed)
        assert_eq!(a.state, ActionState::Applied, "{:?}", a.last_error);
        assert!(a.result.unwrap().starts_with(method));
    }
    let closed = decide(id("codex/dropped"), "close", None).await.unwrap();
    assert_eq!(closed.state, ActionState::Applied);
    assert!(f
        .repo
        .find_branch("codex/dropped", git2::BranchType::Local)
        .is_ok());

    scan(NOW + 2).await.unwrap();
    assert_eq!(
        change_state(&db, &id("claude/squash")).await,
        ChangeState::Merged
    );
    // A merge made here is timed when it went through, and keeps that time across rescans.
    let merged = db
        .store
        .change_request(&id("claude/squash"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        merged.merged_at.is_some_and(|t| t > NOW),
        "{:?}",
        merged.merged_at
    );
    assert!(merged.first_commit_at.is_some());
    assert_eq!(
        change_state(&db, &id("codex/rebase")).await,
        ChangeState::Merged
    );
    // Squash and rebase put new commits on main, not the heads: a deploy of main still ends
    // both changes' deploy phase, by the commit each merge left on main.
    let later = chrono::Utc::now().timestamp() + 60;
    let tip = f.repo.revparse_single("main").unwrap().id().to_string();
    flightdeck_core::domain::deploys::record(
        &db.store,
        &flightdeck_core::domain::deploys::Record {
            repo: Some(f.path.to_string()),
            environment: "production".into(),
            sha: tip,
            status: "success".into(),
            at: Some(later),
            id: Some("d-main".into()),
        },
        "test",
        later,
    )
    .await
    .unwrap();
    let c =
        flightdeck_core::metrics::cycle::cycle_time(&db.store, None, NOW, later + 1, "production")
            .await
            .unwrap();
    let deploy = c.phases.iter().find(|p| p.name == "deploy").unwrap();
    assert_eq!(deploy.all.count, 3, "{deploy:?}");
    // And the deploy lists both changes among what it shipped.
    let shipped = flightdeck_core::domain::deploys::detail(&db.store, "d-main", Some(&policy))
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<&str> = shipped
        .changes
        .iter()
        .map(|c| c.change.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [id("claude/merged"), id("claude/squash"), id("codex/rebase")]
    );
    // Judged by the policy file (no approvals asked of agents): both pass, by the paths they
    // had while open (merged, their diff from main is empty).
    for c in &shipped.changes {
        let v = c.verdict.as_ref().unwrap();
        assert!(v.pass, "{v:?}");
        assert!(c.reviews.is_empty());
    }
    // A stricter policy protecting the merged branch's file sees it touched: its head is in
    // main now (its diff from main is empty), so the paths it had while open are used.
    let strict = f._dir.path().join("strict.toml");
    std::fs::write(
        &strict,
        "[default]\nagent_approvals = 0\n[[default.protected]]\npaths = [\"claude-merged.rs\"]\napprovals = 1\n",
    )
    .unwrap();
    let judged = flightdeck_core::domain::deploys::detail(&db.store, "d-main", Some(&strict))
        .await
        .unwrap()
        .unwrap();
    let v = judged.changes[0].verdict.as_ref().unwrap();
    assert!(!v.pass, "{v:?}");
    assert!(
        v.reasons.iter().any(|r| !r.ok && r.rule == "protected"),
        "{v:?}"
    );
    assert!(judged.changes[1].verdict.as_ref().unwrap().pass);
    assert_eq!(
        change_state(&db, &id("codex/dropped")).await,
        ChangeState::Closed
    );
    match decide(id("codex/dropped"), "approve", None).await {
        Err(outbox::DecideError::NotOpen { state, .. }) => assert_eq!(state, ChangeState::Closed),
        other => panic!("expected not open, got {other:?}"),
    }
    match decide(id("claude/squash"), "merge", Some("octopus")).await {
        Err(e @ outbox::DecideError::BadMethod(_)) => assert!(e.to_string().contains("rebase")),
        other => panic!("expected a bad method, got {other:?}"),
    }

    // The agent goes on working on the dropped branch: it is open again.
    tree_commit(&f.repo, "codex/dropped", "More work", |r, tb| {
        tb.insert("more.rs", r.blob(b"// more\n").unwrap(), 0o100644)
            .unwrap();
    });
    scan(NOW + 3).await.unwrap();
    assert_eq!(
        change_state(&db, &id("codex/dropped")).await,
        ChangeState::Open
    );
    assert_eq!(
        change_state(&db, &id("claude/squash")).await,
        ChangeState::Merged
    );
    db.finish().await;
}
both!(merged_and_closed_local_changes_stay_so_across_rescans);

/// Squash and rebase leave main without the reviewed commit: a crash after either is still
/// recognised (by the action's key in main's reflog) and not merged again.
async fn a_crash_after_a_squash_or_rebase_is_not_merged_twice(db: TestDb) {
    for method in ["squash", "rebase"] {
        let f = fixture();
        let sha = agent_branch(&f, "claude/feature");
        commit_file(&f.repo, "main", "other.rs", "// other\n", "Meanwhile");
        let id = format!("local:{}:claude/feature", f.path);
        let p = Payload {
            method: Some(method.into()),
            ..payload(&f, "claude/feature", &sha)
        };
        let merge = outbox::enqueue(&db.store, ActionKind::Merge, &id, &p, "alice", NOW)
            .await
            .unwrap();
        let applier = local(&db);
        assert!(db
            .store
            .claim_action(&merge.idempotency_key, NOW, NOW)
            .await
            .unwrap());
        let claimed = state_of(&db, &merge).await;
        assert!(matches!(
            applier.apply(&claimed, &p).await,
            Outcome::Applied(_)
        ));
        let merged_tip = main_tip(&f);
        let r = outbox::sync(&db.store, &applier, &f.key, NOW + 1)
            .await
            .unwrap();
        assert_eq!((r.confirmed, r.applied), (1, 0), "{method}: {r:?}");
        assert_eq!(main_tip(&f), merged_tip, "{method}: merged once");
    }
    db.finish().await;
}
both!(a_crash_after_a_squash_or_rebase_is_not_merged_twice);

/// A failed decision is the lead's to settle: retried once the cause is fixed (checked and
/// applied at once), or dismissed (gone from the inbox); both audited; only failed ones.
async fn a_failed_action_can_be_retried_or_dismissed(db: TestDb) {
    let f = fixture();
    let sha = agent_branch(&f, "claude/feature");
    let id = format!("local:{}:claude/feature", f.path);
    let ap = appliers(&db);
    // main is checked out with an uncommitted edit: the merge is refused.
    let readme = f.repo.workdir().unwrap().join("README.md");
    std::fs::write(&readme, "# app, edited\n").unwrap();
    let merge = outbox::enqueue(
        &db.store,
        ActionKind::Merge,
        &id,
        &payload(&f, "claude/feature", &sha),
        "alice",
        NOW,
    )
    .await
    .unwrap();
    outbox::sync(&db.store, &ap, &f.key, NOW).await.unwrap();
    assert_eq!(state_of(&db, &merge).await.state, ActionState::Failed);

    std::fs::write(&readme, "# app\n").unwrap();
    let a = outbox::resolve(
        &db.store,
        &f.key,
        &ap,
        &merge.idempotency_key,
        outbox::Resolve::Retry,
        lead(),
        NOW + 5,
    )
    .await
    .unwrap();
    assert_eq!(a.state, ActionState::Applied, "{:?}", a.last_error);
    assert_eq!(main_tip(&f), sha);
    match outbox::resolve(
        &db.store,
        &f.key,
        &ap,
        &merge.idempotency_key,
        outbox::Resolve::Dismiss,
        lead(),
        NOW + 6,
    )
    .await
    {
        Err(e @ outbox::ResolveError::NotFailed { .. }) => {
            assert!(e.to_string().contains("applied"))
        }
        other => panic!("only failed actions: {other:?}"),
    }

    // A merge of a head that is gone for good: let go of it.
    let stale = outbox::enqueue(
        &db.store,
        ActionKind::Merge,
        &id,
        &payload(&f, "claude/feature", "0123456789"),
        "alice",
        NOW + 7,
    )
    .await
    .unwrap();
    outbox::sync(&db.store, &ap, &f.key, NOW + 7).await.unwrap();
    let inbox = flightdeck_core::views::inbox(&db.store).await.unwrap();
    assert!(inbox
        .items
        .iter()
        .any(|i| i.kind == InboxKind::ActionFailed));
    let a = outbox::resolve(
        &db.store,
        &f.key,
        &ap,
        &stale.idempotency_key,
        outbox::Resolve::Dismiss,
        lead(),
        NOW + 8,
    )
    .await
    .unwrap();
    assert_eq!(a.state, ActionState::Dismissed);
    let inbox = flightdeck_core::views::inbox(&db.store).await.unwrap();
    assert!(
        !inbox
            .items
            .iter()
            .any(|i| i.kind == InboxKind::ActionFailed),
        "{inbox:?}"
    );

    let entries = db.store.audit_entries().await.unwrap();
    let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "merge failed",
            "merge retry",
            "merge applied",
            "merge failed",
            "merge dismiss"
        ]
    );
    assert!(audit::verify(&entries, &[f.key.public_hex()], &[]).ok());
    db.finish().await;
}
both!(a_failed_action_can_be_retried_or_dismissed);

/// Two leads press Merge on one change at the same moment, from two instances on one database
/// (each its own pool), 100 times over: exactly one merge is queued each time, and the other
/// lead is told who is merging it; once it went through, who merged it.
async fn two_leads_merging_at_once_get_one_merge(db: TestDb) {
    use flightdeck_core::domain::actions::new_action;
    use flightdeck_core::model::{ActionKind, ActionState, Author, ChangeState};
    use flightdeck_core::store::MergeQueued;
    let (alice, bob) = (
        flightdeck_core::store::Store::open(&db.url).await.unwrap(),
        flightdeck_core::store::Store::open(&db.url).await.unwrap(),
    );
    for round in 0..100 {
        let mut c = support::merged_change(
            "api",
            &format!("claude/r{round}"),
            "abc",
            Author::Human { name: "Ann".into() },
            1,
        );
        c.state = ChangeState::Open;
        db.store.upsert_change_request(&c).await.unwrap();
        let payload = Payload::default();
        let a = new_action(ActionKind::Merge, &c.id, &payload, "Alice", None, 2).unwrap();
        let b = new_action(ActionKind::Merge, &c.id, &payload, "Bob", None, 2).unwrap();
        let (ra, rb) = tokio::join!(alice.enqueue_merge(&a), bob.enqueue_merge(&b));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let winners = [&ra, &rb]
            .iter()
            .filter(|r| ***r == MergeQueued::Queued)
            .count();
        assert_eq!(winners, 1, "round {round}: {ra:?} / {rb:?}");
        let (winner, loser) = if ra == MergeQueued::Queued {
            (&a, rb)
        } else {
            (&b, ra)
        };
        match loser {
            MergeQueued::Underway(other) => {
                assert_eq!(other.actor, winner.actor);
                assert_eq!(other.idempotency_key, winner.idempotency_key);
            }
            other => panic!("round {round}: the loser got {other:?}"),
        }
        // The same decision sent again is not a second merge either.
        assert_eq!(
            alice.enqueue_merge(winner).await.unwrap(),
            MergeQueued::SameKey
        );
        // Merged: a later press finds the change no longer open, and who merged it.
        c.state = ChangeState::Merged;
        db.store.upsert_change_request(&c).await.unwrap();
        db.store
            .finish_action(
                &winner.idempotency_key,
                ActionState::Applied,
                Some("merged"),
                None,
                3,
            )
            .await
            .unwrap();
        let late = new_action(ActionKind::Merge, &c.id, &payload, "Carol", None, 4).unwrap();
        assert_eq!(
            bob.enqueue_merge(&late).await.unwrap(),
            MergeQueued::NotOpen
        );
        let by = db.store.last_applied_merge(&c.id).await.unwrap().unwrap();
        assert_eq!(by.actor, winner.actor);
    }
    alice.close().await;
    bob.close().await;
    db.finish().await;
}
both!(two_leads_merging_at_once_get_one_merge);

/// The lead deciding, with no `[team]` rules.
fn lead() -> flightdeck_core::domain::team::Acting<'static> {
    static LEAD: std::sync::OnceLock<flightdeck_core::domain::team::Person> =
        std::sync::OnceLock::new();
    flightdeck_core::domain::team::Acting::alone(
        LEAD.get_or_init(|| flightdeck_core::domain::team::Person::named("Alice Lead")),
    )
}

/// A branch stacked on another is judged by what it changes itself once the one below it has
/// landed: its head is the same, but its merge base moved, and the paths stored for it follow
/// (kept from before, they would still name the landed branch's protected file).
async fn a_stacked_branch_is_judged_by_its_own_paths_once_its_parent_lands(db: TestDb) {
    use flightdeck_core::domain::policy::{judge_change, PolicyFile};
    let f = fixture();
    let a = tree_commit(&f.repo, "claude/a", "Add a", |r, tb| {
        tb.insert("a.rs", r.blob(b"// a\n").unwrap(), 0o100644)
            .unwrap();
    });
    let a = f
        .repo
        .find_commit(git2::Oid::from_str(&a).unwrap())
        .unwrap();
    f.repo.branch("claude/b", &a, false).unwrap();
    tree_commit(&f.repo, "claude/b", "Add b", |r, tb| {
        tb.insert("b.rs", r.blob(b"// b\n").unwrap(), 0o100644)
            .unwrap();
    });
    let sources = flightdeck_core::domain::ingest::Sources {
        repos: vec![f.path.clone().into()],
        ..Default::default()
    };
    flightdeck_core::domain::ingest::run(&db.store, &sources, None, NOW)
        .await
        .unwrap();
    let file = PolicyFile::parse(
        "[default]\nagent_approvals = 0\n[[default.protected]]\npaths = [\"a.rs\"]\napprovals = 1\n",
        std::path::Path::new("policy.toml"),
    )
    .unwrap();
    let id = format!("local:{}:claude/b", support::repo_id(&f.path));
    let b = db.store.change_request(&id).await.unwrap().unwrap();
    let v = judge_change(&db.store, &file, &b, NOW).await.unwrap();
    assert!(!v.pass, "a.rs is in b's diff while a is open: {v:?}");

    // `a` lands: main fast-forwards to it.
    f.repo
        .reference("refs/heads/main", a.id(), true, "merge --ff-only claude/a")
        .unwrap();
    flightdeck_core::domain::ingest::run(&db.store, &sources, None, NOW + 60)
        .await
        .unwrap();
    let b = db.store.change_request(&id).await.unwrap().unwrap();
    let v = judge_change(&db.store, &file, &b, NOW + 60).await.unwrap();
    assert!(v.pass, "only b.rs is b's own now: {v:?}");
    assert_eq!(
        db.store.change_files(&id, &b.head_sha).await.unwrap(),
        Some(vec!["b.rs".to_string()])
    );
    db.finish().await;
}
both!(a_stacked_branch_is_judged_by_its_own_paths_once_its_parent_lands);
