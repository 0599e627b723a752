//! Several machines on one database: a repo is its identity, so clones of it on every machine
//! count once; a store keyed by paths is carried over without losing anything.

mod support;

use std::path::{Path, PathBuf};

use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::model::{
    Author, ChangeRequest, ChangeState, Commit, Repo, Review, ReviewState,
};
use flightdeck_core::store::Store;
use support::{both, commit_file, tree_commit, TestDb};

const NOW: i64 = 1_790_000_000;

/// A bare origin with `n` commits on main, as a team's forge would hold it.
fn origin(dir: &Path, n: usize) -> PathBuf {
    let work = dir.join("seed");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let r = git2::Repository::init_opts(&work, &init).unwrap();
    for i in 0..n {
        commit_file(
            &r,
            "main",
            &format!("f{i}.txt"),
            "x",
            &format!("Commit {i}"),
        );
    }
    let bare = dir.join("origin.git");
    git2::build::RepoBuilder::new()
        .bare(true)
        .clone(work.to_str().unwrap(), &bare)
        .unwrap();
    bare
}

/// A clone of `origin` at `at`, with `origin` spelled as `url` (how this laptop cloned it).
fn clone(origin: &Path, at: &Path, url: &str) -> git2::Repository {
    let r = git2::Repository::clone(origin.to_str().unwrap(), at).unwrap();
    r.remote_set_url("origin", url).unwrap();
    r
}

fn sources(path: &Path) -> Sources {
    Sources {
        repos: vec![path.to_path_buf()],
        ..Default::default()
    }
}

/// An agent branch one commit ahead of main in clone `r`.
fn agent_branch(r: &git2::Repository, branch: &str, file: &str) {
    tree_commit(r, branch, &format!("Work on {file}"), |repo, tb| {
        tb.insert(file, repo.blob(b"agent work\n").unwrap(), 0o100644)
            .unwrap();
    });
}

/// The day counts kept beside the spans agree with the spans (percentiles read the counts).
async fn assert_spans_in_step(store: &Store) {
    let spans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM spans")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let counted: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM span_days")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(counted, spans, "span_days out of step with spans");
}

async fn commits_of(store: &Store) -> Vec<Commit> {
    store.commits_between(0, i64::MAX).await.unwrap()
}

async fn two_laptops_cloning_one_repo_see_one_repo(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path(), 5);
    // The same GitHub repo, cloned over SSH on one laptop and HTTPS on the other.
    let a = clone(
        &origin,
        &dir.path().join("alice/api"),
        "git@github.com:Acme/api.git",
    );
    let b = clone(
        &origin,
        &dir.path().join("bob/src/api"),
        "https://github.com/acme/api",
    );
    agent_branch(&a, "claude/cache", "cache.rs");
    agent_branch(&b, "codex/retry", "retry.rs");
    let alice = db.store.on_machine("alice-laptop");
    let bob = db.store.on_machine("bob-laptop");

    for _ in 0..2 {
        ingest::run(&alice, &sources(a.workdir().unwrap()), None, NOW)
            .await
            .unwrap();
        ingest::run(&bob, &sources(b.workdir().unwrap()), None, NOW)
            .await
            .unwrap();
    }

    // One repo, whose clone each laptop knows as its own path.
    let repos = alice.repos().await.unwrap();
    assert_eq!(repos.len(), 1, "{repos:?}");
    assert_eq!(repos[0].id, "github.com/acme/api");
    let canonical = |r: &git2::Repository| {
        let p = r.workdir().unwrap().canonicalize().unwrap();
        p.display().to_string().trim_end_matches('/').to_string()
    };
    assert_eq!(repos[0].path, Some(canonical(&a)));
    assert_eq!(
        bob.repo_path("github.com/acme/api").await.unwrap(),
        Some(canonical(&b))
    );

    // main's five commits once, plus each laptop's agent commit.
    let commits = commits_of(&db.store).await;
    assert_eq!(commits.len(), 7, "{commits:?}");
    assert!(commits.iter().all(|c| c.repo == "github.com/acme/api"));

    // Bob's scans did not delete Alice's branch, nor close her local change.
    let branches: Vec<String> = db
        .store
        .branches()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(branches, ["claude/cache", "codex/retry", "main"]);
    let mut open: Vec<String> = db
        .store
        .change_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.state == ChangeState::Open)
        .map(|c| c.id)
        .collect();
    // Listed newest first, and the two branches' commits may fall in one second or two.
    open.sort();
    assert_eq!(
        open,
        [
            "local:github.com/acme/api:claude/cache",
            "local:github.com/acme/api:codex/retry"
        ]
    );

    // Alice deletes her branch: her next scan closes her change, Bob's stays open.
    a.find_branch("claude/cache", git2::BranchType::Local)
        .unwrap()
        .delete()
        .unwrap();
    ingest::run(&alice, &sources(a.workdir().unwrap()), None, NOW + 60)
        .await
        .unwrap();
    let state = |id: &'static str| {
        let store = db.store.clone();
        async move { store.change_request(id).await.unwrap().unwrap().state }
    };
    assert_eq!(
        state("local:github.com/acme/api:claude/cache").await,
        ChangeState::Closed
    );
    assert_eq!(
        state("local:github.com/acme/api:codex/retry").await,
        ChangeState::Open
    );
    db.finish().await;
}
both!(two_laptops_cloning_one_repo_see_one_repo);

async fn a_repo_with_no_remote_is_its_root_commit(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path(), 3);
    // Two copies of a repo that was never pushed anywhere: no origin on either.
    let one = clone(&origin, &dir.path().join("one"), "x");
    let two = clone(&origin, &dir.path().join("two"), "x");
    for r in [&one, &two] {
        r.remote_delete("origin").unwrap();
    }
    ingest::run(
        &db.store.on_machine("m1"),
        &sources(one.workdir().unwrap()),
        None,
        NOW,
    )
    .await
    .unwrap();
    ingest::run(
        &db.store.on_machine("m2"),
        &sources(two.workdir().unwrap()),
        None,
        NOW,
    )
    .await
    .unwrap();
    let root = {
        let mut walk = one.revwalk().unwrap();
        walk.push_head().unwrap();
        walk.last().unwrap().unwrap().to_string()
    };
    let repos = db.store.repos().await.unwrap();
    assert_eq!(
        repos.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [format!("root:{root}")]
    );
    assert_eq!(commits_of(&db.store).await.len(), 3);
    db.finish().await;
}
both!(a_repo_with_no_remote_is_its_root_commit);

/// A store written before identities (every repo row, commit, change, check and review keyed by
/// the clone's path) is carried over by the next ingest: the same counts, under the identity,
/// nothing lost, and a second run changes nothing.
async fn a_store_keyed_by_paths_is_carried_over(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path(), 4);
    let r = clone(
        &origin,
        &dir.path().join("api"),
        "https://github.com/acme/api.git",
    );
    agent_branch(&r, "claude/cache", "cache.rs");
    let path = r
        .workdir()
        .unwrap()
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let store = &db.store;

    // What the old code wrote: the path as the key, everywhere.
    store
        .upsert_repo(&Repo {
            id: path.clone(),
            path: None,
            name: "api".into(),
            default_branch: "main".into(),
            remote_url: Some("https://github.com/acme/api.git".into()),
            last_scanned_at: Some(NOW - 86_400),
        })
        .await
        .unwrap();
    let mut walk = r.revwalk().unwrap();
    walk.push_ref("refs/heads/claude/cache").unwrap();
    let old_commits: Vec<Commit> = walk
        .map(|oid| {
            let c = r.find_commit(oid.unwrap()).unwrap();
            Commit {
                repo: path.clone(),
                sha: c.id().to_string(),
                author_name: "A".into(),
                author_email: "a@acme.dev".into(),
                authored_at: c.time().seconds(),
                committed_at: c.time().seconds(),
                summary: c.summary().unwrap_or("").into(),
                agent: None,
                files_changed: Some(1),
                insertions: Some(1),
                deletions: Some(0),
            }
        })
        .collect();
    store.upsert_commits(&old_commits).await.unwrap();
    let old_id = format!("local:{path}:claude/cache");
    let head = r.revparse_single("claude/cache").unwrap().id().to_string();
    let change = ChangeRequest {
        title: "Work on cache.rs".into(),
        state: ChangeState::Open,
        ..support::merged_change(
            &path,
            "claude/cache",
            &head,
            Author::Agent {
                agent: "claude".into(),
            },
            NOW - 3_600,
        )
    };
    assert_eq!(change.id, old_id);
    store.upsert_change_request(&change).await.unwrap();
    store
        .add_review(&Review {
            action_key: "k1".into(),
            change_request: old_id.clone(),
            head_sha: head.clone(),
            reviewer: "Alice".into(),
            state: ReviewState::Approved,
            body: "looks right".into(),
            at: NOW - 1_800,
        })
        .await
        .unwrap();
    let before = store.counts().await.unwrap();

    let report = ingest::run(store, &sources(Path::new(&path)), None, NOW)
        .await
        .unwrap();
    assert_eq!(
        report.carried,
        [format!("{path} is now github.com/acme/api")]
    );

    let after = store.counts().await.unwrap();
    assert_eq!(after.commits, before.commits, "no commit lost or doubled");
    assert_eq!(after.change_requests, before.change_requests);
    assert!(store.legacy_repos().await.unwrap().is_empty());
    let repos = store.repos().await.unwrap();
    assert_eq!(repos.len(), 1);
    assert_eq!(
        (repos[0].id.as_str(), repos[0].path.as_deref()),
        ("github.com/acme/api", Some(path.as_str()))
    );
    assert!(commits_of(store)
        .await
        .iter()
        .all(|c| c.repo == "github.com/acme/api"));
    // The change keeps its review under its new id, and stays open (its branch is there).
    let new_id = "local:github.com/acme/api:claude/cache";
    let moved = store.change_request(new_id).await.unwrap().unwrap();
    assert_eq!(moved.state, ChangeState::Open);
    assert!(store.change_request(&old_id).await.unwrap().is_none());
    let reviews = store.reviews().await.unwrap();
    assert_eq!(
        reviews
            .iter()
            .map(|r| (r.change_request.as_str(), r.body.as_str()))
            .collect::<Vec<_>>(),
        [(new_id, "looks right")]
    );

    // Again: nothing left to carry, nothing changes.
    let again = ingest::run(store, &sources(Path::new(&path)), None, NOW + 60)
        .await
        .unwrap();
    assert!(again.carried.is_empty());
    assert_eq!(store.counts().await.unwrap().commits, after.commits);
    assert_spans_in_step(store).await;
    db.finish().await;
}
both!(a_store_keyed_by_paths_is_carried_over);

/// One Claude session on `branch` in `cwd`, in the log layout Claude Code writes.
fn claude_session(dir: &Path, cwd: &Path, session: &str, branch: &str, out_tokens: i64) {
    let project = dir.join("claude/projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let line = |i: usize| {
        serde_json::json!({
            "type": "assistant", "sessionId": session, "cwd": cwd.display().to_string(),
            "gitBranch": branch,
            "timestamp": format!("2026-03-14T09:00:{i:02}.000Z"),
            "requestId": format!("req_{session}_{i}"),
            "message": {"id": format!("msg_{session}_{i}"), "model": "claude-sonnet-4-5",
                "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                "usage": {"input_tokens": 1000, "output_tokens": out_tokens,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
        })
        .to_string()
    };
    std::fs::write(
        project.join(format!("{session}.jsonl")),
        format!("{}\n{}\n", line(1), line(2)),
    )
    .unwrap();
}

/// A merge commit of `branch` into main (as `git merge --no-ff` makes).
fn merge_into_main(r: &git2::Repository, branch: &str) {
    let main = r.revparse_single("main").unwrap().peel_to_commit().unwrap();
    let theirs = r.revparse_single(branch).unwrap().peel_to_commit().unwrap();
    let mut index = r.merge_commits(&main, &theirs, None).unwrap();
    let tree = r.find_tree(index.write_tree_to(r).unwrap()).unwrap();
    let sig = git2::Signature::now("Alice", "alice@acme.dev").unwrap();
    r.commit(
        Some("refs/heads/main"),
        &sig,
        &sig,
        &format!("Merge branch '{branch}'"),
        &tree,
        &[&main, &theirs],
    )
    .unwrap();
}

/// Agent branches merged outside Flightdeck and deleted keep their runs: a `git merge` and a
/// squash by hand are merged changes with their cost, the branch dropped unmerged is closed and
/// its run abandoned.
async fn merged_agent_work_keeps_its_runs(db: TestDb) {
    use flightdeck_core::metrics::value::value;
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path(), 2);
    let r = clone(
        &origin,
        &dir.path().join("api"),
        "https://github.com/acme/api",
    );
    let path = r.workdir().unwrap().canonicalize().unwrap();
    for (branch, file) in [
        ("claude/merged", "merged.rs"),
        ("claude/squashed", "squashed.rs"),
        ("claude/dropped", "dropped.rs"),
    ] {
        agent_branch(&r, branch, file);
        // A second commit: a squash folds two commits into one.
        tree_commit(&r, branch, "More", |repo, tb| {
            tb.insert(
                format!("{file}.md"),
                repo.blob(b"notes\n").unwrap(),
                0o100644,
            )
            .unwrap();
        });
    }
    claude_session(dir.path(), &path, "s-merged", "claude/merged", 20_000);
    claude_session(dir.path(), &path, "s-squashed", "claude/squashed", 40_000);
    claude_session(dir.path(), &path, "s-dropped", "claude/dropped", 80_000);
    let src = Sources {
        repos: vec![path.clone()],
        claude_dirs: vec![dir.path().join("claude")],
        ..Default::default()
    };
    ingest::run(&db.store, &src, None, NOW).await.unwrap();
    let cost_of = |b: &str| {
        let store = db.store.clone();
        let id = format!("local:github.com/acme/api:{b}");
        async move { store.change_request(&id).await.unwrap().unwrap() }
    };
    let merged_cost = cost_of("claude/merged").await.agent_cost_usd;
    let squashed_cost = cost_of("claude/squashed").await.agent_cost_usd;
    let dropped_cost = cost_of("claude/dropped").await.agent_cost_usd;
    assert!(merged_cost > 0.0 && squashed_cost > merged_cost && dropped_cost > squashed_cost);

    // The lead merges one branch with git, squashes another onto main by hand, drops the third,
    // and deletes all three.
    merge_into_main(&r, "claude/merged");
    let squashed_tree = {
        let base = r.revparse_single("main").unwrap().peel_to_commit().unwrap();
        let theirs = r
            .revparse_single("claude/squashed")
            .unwrap()
            .peel_to_commit()
            .unwrap();
        let mut index = r.merge_commits(&base, &theirs, None).unwrap();
        index.write_tree_to(&r).unwrap()
    };
    let squash = {
        let base = r.revparse_single("main").unwrap().peel_to_commit().unwrap();
        let sig = git2::Signature::now("Alice", "alice@acme.dev").unwrap();
        r.commit(
            Some("refs/heads/main"),
            &sig,
            &sig,
            "Squashed: work on squashed.rs",
            &r.find_tree(squashed_tree).unwrap(),
            &[&base],
        )
        .unwrap()
    };
    for b in ["claude/merged", "claude/squashed", "claude/dropped"] {
        r.find_branch(b, git2::BranchType::Local)
            .unwrap()
            .delete()
            .unwrap();
    }
    ingest::run(&db.store, &src, None, NOW + 60).await.unwrap();

    let merged = cost_of("claude/merged").await;
    assert_eq!(merged.state, ChangeState::Merged);
    let merge_commit = r.revparse_single("main~1").unwrap().id().to_string();
    let stored_sha = |id: &str| {
        let store = db.store.clone();
        let id = id.to_string();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT merge_sha FROM change_requests WHERE id = $1",
            )
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap()
        }
    };
    assert_eq!(stored_sha(&merged.id).await, Some(merge_commit));
    let squashed = cost_of("claude/squashed").await;
    assert_eq!(squashed.state, ChangeState::Merged);
    assert_eq!(stored_sha(&squashed.id).await, Some(squash.to_string()));
    assert_eq!(cost_of("claude/dropped").await.state, ChangeState::Closed);

    // The work items adopted from those runs followed their changes.
    let items = db.store.work_items().await.unwrap();
    let state_of_item = |branch: &str| {
        items
            .iter()
            .find(|w| w.links.iter().any(|l| l.target == branch))
            .map(|w| w.state)
    };
    use flightdeck_core::model::WorkState;
    assert_eq!(state_of_item("claude/merged"), Some(WorkState::Done));
    assert_eq!(state_of_item("claude/squashed"), Some(WorkState::Done));
    assert_eq!(state_of_item("claude/dropped"), Some(WorkState::Dropped));

    // What the manager reads: both merged changes with their runs' cost, one abandoned run.
    let v = value(&db.store, 0, NOW + 60).await.unwrap();
    assert_eq!(v.merged_changes, 2);
    assert!((v.merged_cost_usd - (merged_cost + squashed_cost)).abs() < 1e-9);
    assert_eq!(v.abandoned_runs, 1);
    assert!((v.abandoned_cost_usd - dropped_cost).abs() < 1e-9);
    db.finish().await;
}
both!(merged_agent_work_keeps_its_runs);

/// Work seen as a local branch and as a pull request is one change, whichever was seen first:
/// an open branch with an open pull request is that pull request (the lead's review and the
/// work item's link move with it, once no action of the branch is still to send); a branch
/// merged here before the forge noticed is counted once, as the pull request, when the forge
/// says it merged as the same commit; a closed branch whose name a new pull request reuses is
/// left alone. Cycle time counts each merged change once.
async fn a_branch_and_its_pull_request_count_once(db: TestDb) {
    use flightdeck_core::domain::work;
    use flightdeck_core::forge::github::{change_id, sync_repo, GitHub};
    use flightdeck_core::metrics::{cycle::cycle_time, value::value};
    use flightdeck_core::model::WorkLinkKind;
    use flightdeck_core::model::{Action, ActionKind, ActionState};
    const ID: &str = "github.com/acme/api";
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path(), 2);
    let r = clone(
        &origin,
        &dir.path().join("api"),
        "https://github.com/acme/api",
    );
    let path = r.workdir().unwrap().canonicalize().unwrap();
    for b in ["open", "landed", "reused"] {
        agent_branch(&r, &format!("claude/{b}"), &format!("{b}.rs"));
    }
    claude_session(dir.path(), &path, "s-open", "claude/open", 20_000);
    claude_session(dir.path(), &path, "s-landed", "claude/landed", 40_000);
    let src = Sources {
        repos: vec![path.clone()],
        claude_dirs: vec![dir.path().join("claude")],
        ..Default::default()
    };
    ingest::run(&db.store, &src, None, NOW).await.unwrap();
    let local = |b: &str| format!("local:{ID}:claude/{b}");
    let cost = |b: &str| {
        let (store, id) = (db.store.clone(), local(b));
        async move {
            store
                .change_request(&id)
                .await
                .unwrap()
                .unwrap()
                .agent_cost_usd
        }
    };
    let (open_cost, landed_cost) = (cost("open").await, cost("landed").await);
    let head = |b: &str| r.revparse_single(b).unwrap().id().to_string();
    let open_head = head("claude/open");
    // The lead's review of the open branch, a work item linked to it, and a comment still
    // waiting to be sent.
    db.store
        .add_review(&Review {
            action_key: "k-open".into(),
            change_request: local("open"),
            head_sha: open_head.clone(),
            reviewer: "Alice".into(),
            state: ReviewState::Approved,
            body: "looks right".into(),
            at: NOW + 10,
        })
        .await
        .unwrap();
    let key =
        flightdeck_core::model::audit::AuditKey::load_or_create(&dir.path().join("key")).unwrap();
    let item = work::add(
        &db.store,
        &key,
        "alice",
        "Open work",
        "",
        Some(ID),
        None,
        NOW,
    )
    .await
    .unwrap();
    work::link(
        &db.store,
        &item.id,
        WorkLinkKind::Change,
        &local("open"),
        NOW,
    )
    .await
    .unwrap();
    let comment = Action {
        idempotency_key: "c-open".into(),
        kind: ActionKind::Comment,
        target: local("open"),
        payload: r#"{"comment":"nit"}"#.into(),
        actor: "Alice".into(),
        state: ActionState::Queued,
        attempts: 0,
        last_error: None,
        result: None,
        created_at: NOW + 20,
        next_attempt_at: NOW + 20,
        applied_at: None,
    };
    assert!(db.store.enqueue_action(&comment).await.unwrap());

    // One branch is merged here with git and deleted before the forge has noticed; another
    // is dropped.
    merge_into_main(&r, "claude/landed");
    let merge_commit = head("main");
    for b in ["claude/landed", "claude/reused"] {
        r.find_branch(b, git2::BranchType::Local)
            .unwrap()
            .delete()
            .unwrap();
    }
    ingest::run(&db.store, &src, None, NOW + 60).await.unwrap();
    let state = |b: &str| {
        let (store, id) = (db.store.clone(), local(b));
        async move { store.change_request(&id).await.unwrap().map(|c| c.state) }
    };
    assert_eq!(state("landed").await, Some(ChangeState::Merged));
    assert_eq!(state("reused").await, Some(ChangeState::Closed));

    // On the forge, all three names have open pull requests: the landed one has a commit
    // more there, and the reused name is someone's new work.
    let hub = fakehub::Hub::new();
    let pr = |n: u64, b: &str, sha: &str| {
        fakehub::Pr::new(
            n,
            &format!("Work on {b}"),
            "claude[bot]",
            &format!("claude/{b}"),
            sha,
        )
    };
    hub.add_pull("acme/api", pr(7, "open", &open_head));
    hub.add_pull("acme/api", pr(8, "landed", &"f0".repeat(20)));
    hub.add_pull("acme/api", pr(9, "reused", &"e1".repeat(20)));
    let url = hub.serve(0).await.unwrap();
    let gh = GitHub::new(&url, Some("t0ken".into())).unwrap();
    let ids = |store: Store| async move {
        let mut ids: Vec<(String, ChangeState)> = store
            .change_requests()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.id, c.state))
            .collect();
        ids.sort();
        ids
    };
    let (pr7, pr8, pr9) = (
        change_id("acme/api", 7),
        change_id("acme/api", 8),
        change_id("acme/api", 9),
    );
    sync_repo(&gh, &db.store, "acme/api", ID).await.unwrap();
    // The open branch waits for its comment to be sent; the settled ones stay as they are.
    assert_eq!(state("open").await, Some(ChangeState::Open));
    assert_eq!(state("landed").await, Some(ChangeState::Merged));
    db.store
        .finish_action("c-open", ActionState::Applied, None, None, NOW + 90)
        .await
        .unwrap();
    sync_repo(&gh, &db.store, "acme/api", ID).await.unwrap();
    assert_eq!(state("open").await, None, "folded into #7");
    let reviews = db.store.reviews_of(&pr7).await.unwrap();
    assert_eq!(reviews.len(), 1, "the branch's review moved: {reviews:?}");
    let item = work::find(&db.store, &item.id).await.unwrap();
    assert!(
        item.links.iter().any(|l| l.target == pr7),
        "{:?}",
        item.links
    );
    let applied = db.store.action("c-open").await.unwrap().unwrap();
    assert_eq!(applied.target, pr7);
    // The branch still here is scanned again: still only the pull request.
    ingest::run(&db.store, &src, None, NOW + 120).await.unwrap();
    assert_eq!(state("open").await, None);

    // The forge says #8 merged, as the merge commit made here.
    hub.update_pull("acme/api", 8, |p| {
        p.state = "merged".into();
        p.merge_commit_sha = Some(merge_commit.clone());
    });
    sync_repo(&gh, &db.store, "acme/api", ID).await.unwrap();
    assert_eq!(
        ids(db.store.clone()).await,
        vec![
            (pr7, ChangeState::Open),
            (pr8, ChangeState::Merged),
            (pr9, ChangeState::Open),
            (local("reused"), ChangeState::Closed),
        ]
    );
    // The forge's merge time (2026-11-20) is in the window.
    let until = 1_800_000_000;
    let v = value(&db.store, 0, until).await.unwrap();
    assert_eq!(v.merged_changes, 1);
    assert!((v.merged_cost_usd - landed_cost).abs() < 1e-9, "{v:?}");
    // Only the open branch's run, over a week old with nothing merged, is abandoned.
    assert_eq!(v.abandoned_runs, 1, "{v:?}");
    assert!((v.abandoned_cost_usd - open_cost).abs() < 1e-9, "{v:?}");
    // Team-wide, as the Velocity view reads it (from the day counts kept beside the spans).
    let cycle = cycle_time(&db.store, None, 0, until, "production")
        .await
        .unwrap();
    let merge = cycle.phases.iter().find(|p| p.name == "merge").unwrap();
    assert_eq!(merge.all.count, 1, "{cycle:?}");
    assert_spans_in_step(&db.store).await;
    db.finish().await;
}
both!(a_branch_and_its_pull_request_count_once);

/// `[team]` says who may approve releases per environment and who may override the policy;
/// the core decisions refuse everyone else, naming the rule, and record who decided.
async fn team_rules_decide_who_may(db: TestDb) {
    use flightdeck_core::domain::outbox::{self, Decide, DecideError};
    use flightdeck_core::domain::releases::{self, ReleaseError};
    use flightdeck_core::domain::team::{Acting, Config};
    use flightdeck_core::model::{Release, ReleaseState};
    let team: Config = toml::from_str(
        r#"
        policy_overriders = ["alice"]
        [members.alice]
        name = "Alice Martin"
        [members.bob]
        name = "Bob Chen"
        [members.carol]
        name = "Carol Diaz"
        [teams]
        platform = ["bob"]
        [release_approvers]
        production = ["alice", "team:platform"]
        "#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key =
        flightdeck_core::model::audit::AuditKey::load_or_create(&dir.path().join("k")).unwrap();
    let release = |id: &str, env: &str| Release {
        id: id.into(),
        repo: "github.com/acme/api".into(),
        environment: env.into(),
        name: format!("v1-{id}"),
        state: ReleaseState::Pending,
        created_at: NOW,
        approved_by: None,
        sha: Some("a".repeat(40)),
        run_id: None,
        decided_at: None,
        reason: None,
    };
    db.store
        .upsert_release(&release("R1", "production"))
        .await
        .unwrap();
    db.store
        .upsert_release(&release("R2", "staging"))
        .await
        .unwrap();
    // Leaked: the people and rules live as long as the test.
    let team: &'static Config = Box::leak(Box::new(team));
    let person = |id: &str| -> &'static _ { Box::leak(Box::new(team.member(id).unwrap())) };
    let (alice, bob, carol) = (person("alice"), person("bob"), person("carol"));
    let eve: &'static _ = Box::leak(Box::new(team.person("Eve", "eve@elsewhere.dev")));
    let as_ = |p| Acting { person: p, team };
    let (store, key) = (&db.store, &key);
    let decide = |by: Acting<'static>, id: &'static str| async move {
        releases::decide(store, key, by, id, true, "", None, None, NOW).await
    };

    // Carol is a member, but production's rule names Alice and the platform team.
    let no = decide(as_(carol), "R1").await.unwrap_err();
    assert!(matches!(no, ReleaseError::NotAllowed(_)), "{no}");
    assert_eq!(
        no.to_string(),
        "Carol Diaz may not approve or reject releases to production: \
         [team.release_approvers] production = [\"alice\", \"team:platform\"]"
    );
    // Staging has no rule: any member; someone outside the team: nobody.
    let no = decide(as_(eve), "R2").await.unwrap_err();
    assert!(no.to_string().contains("only members of [team]"), "{no}");
    decide(as_(carol), "R2").await.unwrap();
    // Bob, through the platform team, approves production; the log says it was Bob.
    let r = decide(as_(bob), "R1").await.unwrap();
    assert_eq!(r.approved_by.as_deref(), Some("Bob Chen"));
    let actors: Vec<String> = db
        .store
        .audit_entries()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.actor)
        .collect();
    // Newest first: Bob's production approval, Carol's staging one.
    assert_eq!(actors, ["Bob Chen", "Carol Diaz"]);

    // Merging over the policy: only Alice may; the refusal names the rule, nothing is queued.
    let origin = origin(dir.path(), 1);
    let r = clone(
        &origin,
        &dir.path().join("api"),
        "https://github.com/acme/api",
    );
    agent_branch(&r, "claude/risky", "risky.rs");
    ingest::run(&db.store, &sources(r.workdir().unwrap()), None, NOW)
        .await
        .unwrap();
    // The policy: two approvals, which the branch does not have.
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[default]\nagent_approvals = 2\n").unwrap();
    let appliers = outbox::Appliers {
        local: outbox::LocalApplier {
            store: db.store.clone(),
            name: "Alice Martin".into(),
            email: "alice@acme.dev".into(),
        },
        github: None,
        growthbook: None,
        reach: Default::default(),
    };
    let merge = Decide {
        kind: "merge".into(),
        override_reason: Some("hotfix, reviewed on a call".into()),
        ..Default::default()
    };
    let id = "local:github.com/acme/api:claude/risky";
    let no = outbox::decide(
        &db.store,
        key,
        &appliers,
        &policy,
        id,
        &merge,
        as_(bob),
        NOW,
    )
    .await
    .unwrap_err();
    assert!(matches!(no, DecideError::NotAllowed(_)), "{no}");
    assert!(no.to_string().contains("[team] policy_overriders"), "{no}");
    assert!(db.store.actions().await.unwrap().is_empty());
    let done = outbox::decide(
        &db.store,
        key,
        &appliers,
        &policy,
        id,
        &merge,
        as_(alice),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(done.state, flightdeck_core::model::ActionState::Applied);
    let last = db.store.audit_entries().await.unwrap();
    assert!(last
        .iter()
        .any(|e| e.actor == "Alice Martin" && e.action == "override"));

    // Sending a failed override merge again is overriding again: Bob may not, Alice may.
    agent_branch(&r, "claude/gone", "gone.rs");
    ingest::run(&db.store, &sources(r.workdir().unwrap()), None, NOW + 10)
        .await
        .unwrap();
    r.find_branch("claude/gone", git2::BranchType::Local)
        .unwrap()
        .delete()
        .unwrap();
    let gone = "local:github.com/acme/api:claude/gone";
    let failed = outbox::decide(
        &db.store,
        key,
        &appliers,
        &policy,
        gone,
        &merge,
        as_(alice),
        NOW + 20,
    )
    .await
    .unwrap();
    assert_eq!(
        failed.state,
        flightdeck_core::model::ActionState::Failed,
        "{failed:?}"
    );
    let no = outbox::resolve(
        &db.store,
        key,
        &appliers,
        &failed.idempotency_key,
        outbox::Resolve::Retry,
        as_(bob),
        NOW + 30,
    )
    .await
    .unwrap_err();
    assert!(no.to_string().contains("[team] policy_overriders"), "{no}");
    outbox::resolve(
        &db.store,
        key,
        &appliers,
        &failed.idempotency_key,
        outbox::Resolve::Dismiss,
        as_(alice),
        NOW + 31,
    )
    .await
    .unwrap();
    db.finish().await;
}
both!(team_rules_decide_who_may);

/// The manager's table: each person's merged changes (authored, or whose agent runs they
/// launched), runs and spend, and each team's sum, across two machines on one database.
async fn figures_per_person_and_team(db: TestDb) {
    use flightdeck_core::metrics::team::team_view;
    let team: flightdeck_core::domain::team::Config = toml::from_str(
        r#"
        [members.alice]
        name = "Alice Martin"
        [members.bob]
        name = "Bob Chen"
        [members.carol]
        name = "Carol Diaz"
        [teams]
        platform = ["alice", "bob"]
        web = ["carol"]
        "#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path(), 2);
    // Alice's and Bob's laptops: an agent branch each, their own agent's session on it.
    let mut clones = Vec::new();
    for (who, branch, tokens) in [
        ("Alice Martin", "claude/a", 10_000),
        ("Bob Chen", "claude/b", 30_000),
    ] {
        let home = dir.path().join(who.replace(' ', "-"));
        let r = clone(&origin, &home.join("api"), "https://github.com/acme/api");
        agent_branch(&r, branch, &format!("{}.rs", branch.replace('/', "-")));
        let path = r.workdir().unwrap().canonicalize().unwrap();
        claude_session(
            &home,
            &path,
            &format!("s-{}", branch.replace('/', "-")),
            branch,
            tokens,
        );
        let src = Sources {
            repos: vec![path.clone()],
            claude_dirs: vec![home.join("claude")],
            person: who.into(),
            ..Default::default()
        };
        let on = db.store.on_machine(who);
        ingest::run(&on, &src, None, NOW).await.unwrap();
        clones.push((r, src, on, branch));
    }
    // Both branches merged with git and deleted; each laptop's next scan records its own.
    for (r, src, on, branch) in &clones {
        merge_into_main(r, branch);
        r.find_branch(branch, git2::BranchType::Local)
            .unwrap()
            .delete()
            .unwrap();
        ingest::run(on, src, None, NOW + 60).await.unwrap();
    }
    // And a change Carol wrote herself.
    db.store
        .upsert_change_request(&ChangeRequest {
            merged_at: Some(NOW - 1_800),
            ..support::merged_change(
                "github.com/acme/api",
                "carol/css",
                "c",
                Author::Human {
                    name: "Carol Diaz".into(),
                },
                NOW - 3_600,
            )
        })
        .await
        .unwrap();
    let merged_at = |id: &str| {
        let store = db.store.clone();
        let id = id.to_string();
        async move { store.change_request(&id).await.unwrap().unwrap().merged_at }
    };
    let since = merged_at("local:github.com/acme/api:claude/a")
        .await
        .unwrap()
        .min(NOW - 3_600);
    let v = team_view(&db.store, &team, since - 1, i64::MAX / 2)
        .await
        .unwrap();
    let row = |name: &str| {
        v.people.iter().find(|p| p.person == name).map(|p| {
            (
                p.figures.merged_changes,
                p.figures.merged_agent_changes,
                p.figures.agent_runs,
            )
        })
    };
    // Runs are counted over the whole range here (the sessions are from March).
    assert_eq!(row("Alice Martin"), Some((1, 1, 0)));
    assert_eq!(row("Bob Chen"), Some((1, 1, 0)));
    assert_eq!(row("Carol Diaz"), Some((1, 0, 0)));
    let platform = v.teams.iter().find(|t| t.team == "platform").unwrap();
    assert_eq!(platform.figures.merged_changes, 2);
    // Over all time: each launched one run, and Bob's cost three times Alice's output.
    let all = team_view(&db.store, &team, 0, i64::MAX / 2).await.unwrap();
    let cost = |name: &str| {
        all.people
            .iter()
            .find(|p| p.person == name)
            .map(|p| (p.figures.agent_runs, p.figures.agent_cost_usd))
            .unwrap()
    };
    let (a_runs, a_cost) = cost("Alice Martin");
    let (b_runs, b_cost) = cost("Bob Chen");
    assert_eq!((a_runs, b_runs), (1, 1));
    assert!(a_cost > 0.0 && b_cost > a_cost, "{a_cost} {b_cost}");
    let platform = all.teams.iter().find(|t| t.team == "platform").unwrap();
    assert!((platform.figures.agent_cost_usd - (a_cost + b_cost)).abs() < 1e-9);
    assert_eq!(
        all.teams
            .iter()
            .find(|t| t.team == "web")
            .unwrap()
            .figures
            .agent_runs,
        0
    );
    db.finish().await;
}
both!(figures_per_person_and_team);

/// On a shared database, the first machine to scan after the upgrade must not take the other
/// machines' old rows for its own: their paths are rekeyed (from the remote) without becoming
/// clones here, and branches seen in their clones before the upgrade stay, with their changes.
async fn the_upgrade_leaves_other_machines_work_alone(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let origin = origin(dir.path(), 2);
    let r = clone(
        &origin,
        &dir.path().join("mine/api"),
        "https://github.com/acme/api",
    );
    let here = r.workdir().unwrap().canonicalize().unwrap();
    // Written before identities, by another machine whose clone was at /home/bob/api.
    let theirs = "/home/bob/api";
    db.store
        .upsert_repo(&Repo {
            id: theirs.into(),
            path: None,
            name: "api".into(),
            default_branch: "main".into(),
            remote_url: Some("git@github.com:acme/api.git".into()),
            last_scanned_at: Some(NOW - 86_400),
        })
        .await
        .unwrap();
    let branch = flightdeck_core::model::Branch {
        repo: theirs.into(),
        name: "claude/bobs-work".into(),
        head_sha: "b".repeat(40),
        agent: Some("claude".into()),
        ahead: 1,
        behind: 0,
        worktree_path: None,
        updated_at: NOW - 3_600,
    };
    // As migration 29 marks a row seen before machines were recorded.
    db.store
        .replace_branches(theirs, &format!("?:{theirs}"), &[branch])
        .await
        .unwrap();
    let mut change = support::merged_change(
        theirs,
        "claude/bobs-work",
        &"b".repeat(40),
        Author::Agent {
            agent: "claude".into(),
        },
        NOW - 3_600,
    );
    change.state = ChangeState::Open;
    db.store.upsert_change_request(&change).await.unwrap();

    ingest::run(&db.store.on_machine("alice"), &sources(&here), None, NOW)
        .await
        .unwrap();
    let repos = db.store.on_machine("alice").repos().await.unwrap();
    assert_eq!(repos.len(), 1, "{repos:?}");
    assert_eq!(repos[0].id, "github.com/acme/api");
    // Alice's clone is hers; Bob's path is not a clone on Alice's machine.
    let clones: Vec<(String, String)> =
        sqlx::query_as("SELECT machine, path FROM repo_clones ORDER BY path")
            .fetch_all(db.store.pool())
            .await
            .unwrap();
    assert_eq!(
        clones,
        [(
            "alice".to_string(),
            here.display().to_string().trim_end_matches('/').to_string()
        )]
    );
    // Bob's branch and his open change are still there.
    let names: Vec<String> = db
        .store
        .branches()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert!(names.contains(&"claude/bobs-work".to_string()), "{names:?}");
    let bobs = db
        .store
        .change_request("local:github.com/acme/api:claude/bobs-work")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bobs.state, ChangeState::Open);
    assert_spans_in_step(&db.store).await;
    db.finish().await;
}
both!(the_upgrade_leaves_other_machines_work_alone);
