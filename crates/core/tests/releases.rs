//! Releases against the fake GitHub: what a release holds (every commit over the last
//! successful deploy to its environment, with risk signals); an approval given offline is
//! signed in the audit log at once, queued, and applied exactly once to the waiting Actions run
//! when GitHub answers — also when GitHub's answer is lost; the signature verifies with the
//! lead's public key and a tampered approval is caught.

mod support;

use std::time::Duration;

use fakehub::{Fault, Hub};
use flightdeck_core::domain::deploys::{self, Record};
use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::domain::outbox::GitHubApplier;
use flightdeck_core::forge::github::GitHub;
use flightdeck_core::model::audit::{self, AuditKey};
use flightdeck_core::model::{DeployStatus, Release, ReleaseState};
use flightdeck_core::{domain::outbox, domain::releases};
use support::{both, commit_file, TestDb};

const NOW: i64 = 1_795_176_000;
const FULL: &str = "acme/api";

fn applier(url: &str) -> GitHubApplier {
    GitHubApplier {
        gh: GitHub::new(url, None)
            .unwrap()
            .with_backoff(Duration::from_millis(5)),
    }
}

/// A real repo `api` in `dir`: an initial commit (the one deployed), then a commit for each of
/// `later`; read by the ingest. Returns it with its path, the initial sha and the tip's.
async fn read_repo(
    db: &TestDb,
    dir: &std::path::Path,
    later: &[&str],
) -> (git2::Repository, std::path::PathBuf, String, String) {
    let path = dir.join("api");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let r = git2::Repository::init_opts(&path, &init).unwrap();
    commit_file(&r, "main", "a.txt", "a", "Initial commit");
    let live = r.revparse_single("main").unwrap().id().to_string();
    for (i, message) in later.iter().enumerate() {
        commit_file(&r, "main", &format!("f{i}.txt"), message, message);
    }
    let tip = r.revparse_single("main").unwrap().id().to_string();
    let path = path.canonicalize().unwrap();
    let sources = Sources {
        repos: vec![path.clone()],
        ..Default::default()
    };
    ingest::run(&db.store, &sources, None, NOW).await.unwrap();
    (r, path, live, tip)
}

/// `sha` live in production since a day before NOW: what a release is measured against.
async fn deploy_live(db: &TestDb, sha: &str) {
    let live = Record {
        repo: None,
        environment: "production".into(),
        sha: sha.into(),
        status: "success".into(),
        at: Some(NOW - 86_400),
        id: Some("d1".into()),
    };
    deploys::record(&db.store, &live, "test", NOW)
        .await
        .unwrap();
}

async fn offline_release_approval_is_applied_once_and_verifies(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (r, path, live, candidate) = read_repo(
        &db,
        dir.path(),
        &[
            "Add rate limiter\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
            "Tune the limits",
        ],
    )
    .await;
    let repo = support::repo_id(&path);
    deploy_live(&db, &live).await;
    let release = |id: &str, run: i64| Release {
        id: id.into(),
        repo: repo.clone(),
        environment: "production".into(),
        name: format!("v1.{run}"),
        state: ReleaseState::Pending,
        created_at: NOW,
        approved_by: None,
        sha: Some(candidate.clone()),
        run_id: Some(run),
        decided_at: None,
        reason: None,
    };
    db.store.upsert_release(&release("R1", 9077)).await.unwrap();
    db.store.upsert_release(&release("R2", 9078)).await.unwrap();

    // What the release holds: the two commits over the live deploy, the agent's unreviewed.
    let d = releases::detail(&db.store, "R1").await.unwrap();
    assert_eq!(d.since.as_deref(), Some(live.as_str()));
    let summaries: Vec<&str> = d.commits.iter().map(|c| c.summary.as_str()).collect();
    assert_eq!(summaries, ["Tune the limits", "Add rate limiter"]);
    assert!(
        d.signals
            .iter()
            .any(|s| s.contains("1 agent commit(s) not at the head of an approved change")),
        "{:?}",
        d.signals
    );
    assert!(!d.clear);

    let hub = Hub::new();
    hub.add_pending_deployment(FULL, 9077, 161, "production");
    hub.add_pending_deployment(FULL, 9078, 161, "production");
    let url = hub.serve(0).await.unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("key")).unwrap();

    // On the plane: decided, signed and queued; nothing reaches GitHub.
    let approved = releases::decide(
        &db.store,
        &key,
        alice(),
        "R1",
        true,
        "ship it",
        Some(FULL),
        None,
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        (approved.state.as_str(), approved.approved_by.as_deref()),
        ("approved", Some("alice"))
    );
    // The approval as a signed annotated tag: it verifies with the lead's key; an edited or a
    // moved copy does not, nor does an untrusted key.
    let tag = releases::tag_release(&path, &approved, &key, ("Alice", "alice@acme.dev")).unwrap();
    let said = releases::verify_tag(&path, &tag, &[key.public_hex()]).unwrap();
    assert!(
        said.starts_with("approved release v1.9077") && said.contains(&candidate),
        "{said}"
    );
    let err = releases::verify_tag(&path, &tag, &["00".repeat(32)]).unwrap_err();
    assert!(err.contains("not trusted"), "{err}");
    let original = r
        .revparse_single(&format!("refs/tags/{tag}"))
        .unwrap()
        .peel_to_tag()
        .unwrap()
        .message()
        .unwrap()
        .to_string();
    let sig = git2::Signature::now("Mallory", "m@x").unwrap();
    let head = r.revparse_single(&candidate).unwrap();
    r.tag(
        "forged",
        &head,
        &sig,
        &original.replace("ship it", "ship it all"),
        false,
    )
    .unwrap();
    let err = releases::verify_tag(&path, "forged", &[key.public_hex()]).unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
    let elsewhere = r.revparse_single(&live).unwrap();
    r.tag("moved", &elsewhere, &sig, &original, false).unwrap();
    let err = releases::verify_tag(&path, "moved", &[key.public_hex()]).unwrap_err();
    assert!(err.contains("not the commit that was approved"), "{err}");

    let offline = applier("http://127.0.0.1:9");
    let rep = outbox::sync(&db.store, &offline, &key, NOW + 1)
        .await
        .unwrap();
    assert_eq!((rep.applied, rep.retrying), (0, 1));
    assert!(hub.run_reviews(FULL, 9077).is_empty());

    // Landed: applied once, never again.
    let online = applier(&url);
    let later = NOW + 10_000;
    let rep = outbox::sync(&db.store, &online, &key, later).await.unwrap();
    assert_eq!(rep.applied, 1, "{rep:?}");
    assert_eq!(
        hub.run_reviews(FULL, 9077),
        [(
            "approved".to_string(),
            "Approved by alice in Flightdeck: ship it".to_string()
        )]
    );
    let rep = outbox::sync(&db.store, &online, &key, later + 10_000)
        .await
        .unwrap();
    assert_eq!(rep, outbox::SyncReport::default());
    assert_eq!(hub.run_reviews(FULL, 9077).len(), 1);

    // A rejection whose answer is lost: the retry sees the run no longer waits, and does not
    // review again.
    let err = releases::decide(
        &db.store,
        &key,
        alice(),
        "R2",
        false,
        " ",
        Some(FULL),
        None,
        later,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("needs a reason"), "{err}");
    releases::decide(
        &db.store,
        &key,
        alice(),
        "R2",
        false,
        "the limiter needs a second review",
        Some(FULL),
        None,
        later,
    )
    .await
    .unwrap();
    hub.push_fault(Fault::Slow(Duration::ZERO)); // the look at what waits
    hub.push_fault(Fault::AfterApply(502)); // the review: done, its answer lost
    let t = later + 20_000;
    let rep = outbox::sync(&db.store, &online, &key, t).await.unwrap();
    assert_eq!(rep.retrying, 1, "{rep:?}");
    let rep = outbox::sync(&db.store, &online, &key, t + 10_000)
        .await
        .unwrap();
    assert_eq!(rep.confirmed, 1, "{rep:?}");
    assert_eq!(hub.run_reviews(FULL, 9078).len(), 1);
    assert_eq!(hub.run_reviews(FULL, 9078)[0].0, "rejected");
    let err = releases::decide(
        &db.store,
        &key,
        alice(),
        "R1",
        false,
        "x",
        Some(FULL),
        None,
        t,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("is approved, not pending"),
        "{err}"
    );
    // Approved again (a resend whose first answer was lost): the same release, nothing new
    // queued or signed.
    let (actions, audited) = (
        db.store.actions().await.unwrap().len(),
        db.store.audit_entries().await.unwrap().len(),
    );
    let again = releases::decide(
        &db.store,
        &key,
        alice(),
        "R1",
        true,
        "",
        Some(FULL),
        None,
        t,
    )
    .await
    .unwrap();
    assert_eq!(again.state, ReleaseState::Approved);
    assert_eq!(db.store.actions().await.unwrap().len(), actions);
    assert_eq!(db.store.audit_entries().await.unwrap().len(), audited);

    // Anyone with the lead's public key can check the approval; an edited one is caught.
    let entries = db.store.audit_entries().await.unwrap();
    let approval = entries
        .iter()
        .find(|e| e.action == "release approve")
        .unwrap();
    assert!(
        approval.detail.contains(&candidate) && approval.detail.contains("ship it"),
        "{}",
        approval.detail
    );
    let v = audit::verify(&entries, &[key.public_hex()], &[]);
    assert!(v.ok(), "{:?}", v.problems);
    sqlx::query(
        "UPDATE audit_entries SET detail = REPLACE(detail, 'ship it', 'ship it now')
         WHERE action = 'release approve'",
    )
    .execute(db.store.pool())
    .await
    .unwrap();
    let v = audit::verify(
        &db.store.audit_entries().await.unwrap(),
        &[key.public_hex()],
        &[],
    );
    assert!(
        v.problems
            .iter()
            .any(|p| p.seq == approval.seq && p.what.contains("was edited")),
        "{:?}",
        v.problems
    );
    db.finish().await;
}
both!(offline_release_approval_is_applied_once_and_verifies);

/// GitHub deployments (state from their newest status) become deploys with exact contents; a
/// workflow run waiting on an environment's reviewers becomes a pending release, once.
async fn github_deployments_and_waiting_runs_sync(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (_r, path, live, next) = read_repo(&db, dir.path(), &["Next"]).await;
    let repo = support::repo_id(&path);

    let hub = Hub::new();
    let status = |s: &str, t: &str| (s.to_string(), t.to_string());
    hub.add_deployment(
        FULL,
        fakehub::Deploy {
            id: 700001,
            sha: live.clone(),
            environment: "production".into(),
            created_at: "2026-11-20T10:00:00Z".into(),
            statuses: vec![
                status("in_progress", "2026-11-20T10:00:05Z"),
                status("success", "2026-11-20T10:04:00Z"),
            ],
        },
    );
    hub.add_deployment(
        FULL,
        fakehub::Deploy {
            id: 700002,
            sha: next.clone(),
            environment: "staging".into(),
            created_at: "2026-11-21T10:00:00Z".into(),
            statuses: vec![status("error", "2026-11-21T10:01:00Z")],
        },
    );
    hub.add_waiting_run(FULL, 9100, &next, "Deploy v1.4");
    hub.add_pending_deployment(FULL, 9100, 161, "production");
    let url = hub.serve(0).await.unwrap();
    let gh = GitHub::new(&url, None).unwrap();

    assert_eq!(
        deploys::sync_github(&gh, &db.store, FULL, &repo, NOW)
            .await
            .unwrap(),
        2
    );
    let all = db.store.deployments().await.unwrap();
    let prod = all
        .iter()
        .find(|d| d.id == "github:acme/api:700001")
        .unwrap();
    assert_eq!(
        (
            prod.status.as_str(),
            prod.environment.as_str(),
            prod.contents.as_str()
        ),
        ("success", "production", "exact")
    );
    assert_eq!(prod.created_at, 1_795_168_800, "2026-11-20T10:00:00Z");
    let staging = all
        .iter()
        .find(|d| d.id == "github:acme/api:700002")
        .unwrap();
    assert_eq!(
        staging.status,
        DeployStatus::Failure,
        "error counts as failure"
    );
    // Final ones are not asked about again.
    assert_eq!(
        deploys::sync_github(&gh, &db.store, FULL, &repo, NOW)
            .await
            .unwrap(),
        0
    );

    assert_eq!(
        releases::sync_waiting_runs(&gh, &db.store, FULL, &repo, NOW)
            .await
            .unwrap(),
        1
    );
    let rel = db
        .store
        .releases()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.run_id == Some(9100))
        .unwrap();
    assert_eq!(
        (
            rel.state.as_str(),
            rel.environment.as_str(),
            rel.sha.as_deref()
        ),
        ("pending", "production", Some(next.as_str()))
    );
    let d = releases::detail(&db.store, &rel.id).await.unwrap();
    assert_eq!(d.since.as_deref(), Some(live.as_str()));
    assert_eq!(d.commits.len(), 1);
    assert_eq!(
        releases::sync_waiting_runs(&gh, &db.store, FULL, &repo, NOW)
            .await
            .unwrap(),
        0
    );
    db.finish().await;
}
both!(github_deployments_and_waiting_runs_sync);

/// A change's checks as the release page weighs them: one failing now, one that failed and was
/// fixed by a later run (the store keeps that it failed), one that always passed.
async fn release_changes_carry_their_check_history(db: TestDb) {
    use flightdeck_core::model::{Author, ChangeRequest, Check};
    let dir = tempfile::tempdir().unwrap();
    let (r, path, live, tip) = read_repo(&db, dir.path(), &["Add cache", "Fix login"]).await;
    let repo = support::repo_id(&path);
    let cache_sha = r.revparse_single("main~1").unwrap().id().to_string();
    deploy_live(&db, &live).await;
    let change = |branch: &str, sha: &str| ChangeRequest {
        merged_at: Some(NOW - 1_800),
        ..support::merged_change(
            &repo,
            branch,
            sha,
            Author::Human { name: "Bob".into() },
            NOW - 3_600,
        )
    };
    let cache = change("cache", &cache_sha);
    let login = change("login", &tip);
    let check = |c: &ChangeRequest, name: &str, conclusion: &str| Check {
        change_request: c.id.clone(),
        name: name.into(),
        status: "completed".into(),
        conclusion: Some(conclusion.into()),
        url: None,
        ever_failed: false,
    };
    for c in [&cache, &login] {
        db.store.upsert_change_request(c).await.unwrap();
    }
    for k in [
        check(&cache, "ci", "failure"),
        check(&cache, "ci", "success"),
        check(&cache, "lint", "success"),
        check(&login, "ci", "success"),
        check(&login, "e2e", "timed_out"),
    ] {
        db.store.upsert_check(&k).await.unwrap();
    }
    db.store
        .upsert_release(&Release {
            id: "R9".into(),
            repo: repo.clone(),
            environment: "production".into(),
            name: "v2".into(),
            state: ReleaseState::Pending,
            created_at: NOW,
            approved_by: None,
            sha: Some(tip.clone()),
            run_id: None,
            decided_at: None,
            reason: None,
        })
        .await
        .unwrap();
    let d = releases::detail(&db.store, "R9").await.unwrap();
    let signals = |id: &str| {
        d.changes
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.signals.clone())
            .unwrap_or_else(|| panic!("{id} not in the release: {:?}", d.changes))
    };
    assert_eq!(signals(&cache.id), ["check(s) failed, later fixed: ci"]);
    assert_eq!(signals(&login.id), ["failing check(s): e2e"]);
    db.finish().await;
}
both!(release_changes_carry_their_check_history);

/// Alice deciding, with no `[team]` rules.
fn alice() -> flightdeck_core::domain::team::Acting<'static> {
    static ALICE: std::sync::OnceLock<flightdeck_core::domain::team::Person> =
        std::sync::OnceLock::new();
    flightdeck_core::domain::team::Acting::alone(
        ALICE.get_or_init(|| flightdeck_core::domain::team::Person::named("alice")),
    )
}
