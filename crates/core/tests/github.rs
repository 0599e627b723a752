//! GitHub pull requests through the client against the local fake GitHub (`crates/fakehub`,
//! GitHub's shapes, headers and failures): stored with checks; unchanged refreshes cost only
//! free 304s; pages followed; 5xx retried; rate limits stop the sync with when to resume;
//! closed and merged pull requests leave the open list; the token never shows in an error and
//! never leaves the API's origin (links, redirects, plain http).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fakehub::{Fault, Hub, Pr};
use flightdeck_core::forge::github::{change_id, sync_repo, GitHub, GitHubError};
use flightdeck_core::model::{ActionKind, ActionState, Author, ChangeKind};
use support::{both, TestDb};

const REPO: &str = "acme/widgets";
const KEY: &str = "/w/widgets";

async fn hub_with_prs() -> (Hub, String) {
    let hub = Hub::new();
    let mut agent_pr = Pr::new(
        42,
        "Add rate limiter",
        "claude[bot]",
        "claude/rate-limit",
        "a1",
    );
    agent_pr.labels = vec!["agent:claude".into(), "needs-review".into()];
    agent_pr.requested_reviewers = vec!["lead".into()];
    hub.add_pull(REPO, agent_pr);
    let mut human_pr = Pr::new(43, "Fix typo", "alice", "fix-typo", "b2");
    human_pr.mergeable = false;
    hub.add_pull(REPO, human_pr);
    hub.set_check_runs(
        REPO,
        "a1",
        &[
            ("build", "completed", Some("success")),
            ("test", "in_progress", None),
        ],
    );
    hub.set_statuses(REPO, "a1", &[("ci/lint", "failure")]);
    let url = hub.serve(0).await.unwrap();
    (hub, url)
}

fn client(url: &str) -> GitHub {
    GitHub::new(url, Some("s3cret-token".into()))
        .unwrap()
        .with_backoff(Duration::from_millis(5))
}

async fn prs_checks_and_free_refreshes(db: TestDb) {
    let (hub, url) = hub_with_prs().await;
    let gh = client(&url);
    let s = sync_repo(&gh, &db.store, REPO, KEY).await.unwrap();
    assert_eq!((s.open, s.closed), (2, 0));
    let changes = db.store.change_requests().await.unwrap();
    let pr = changes
        .iter()
        .find(|c| c.id == change_id(REPO, 42))
        .unwrap();
    assert_eq!(pr.kind, ChangeKind::Github);
    assert_eq!(
        pr.author,
        Author::Agent {
            agent: "claude-code".into()
        }
    );
    assert_eq!(
        (pr.head.as_str(), pr.base.as_str(), pr.head_sha.as_str()),
        ("claude/rate-limit", "main", "a1")
    );
    assert_eq!(
        (pr.insertions, pr.deletions, pr.files_changed),
        (Some(10), Some(2), Some(1))
    );
    assert_eq!(pr.labels, vec!["agent:claude", "needs-review"]);
    assert_eq!(pr.requested_reviewers, vec!["lead"]);
    assert_eq!(pr.mergeable, Some(flightdeck_core::model::Mergeable::Clean));
    let human = changes
        .iter()
        .find(|c| c.id == change_id(REPO, 43))
        .unwrap();
    assert_eq!(
        human.mergeable,
        Some(flightdeck_core::model::Mergeable::Conflicts)
    );
    assert!(human.labels.is_empty() && human.requested_reviewers.is_empty());
    assert_eq!(
        human.author,
        Author::Human {
            name: "alice".into()
        }
    );
    let mut checks: Vec<(String, String, Option<String>)> = db
        .store
        .checks()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.change_request == pr.id)
        .map(|c| (c.name, c.status, c.conclusion))
        .collect();
    checks.sort();
    assert_eq!(
        checks,
        vec![
            ("build".into(), "completed".into(), Some("success".into())),
            ("ci/lint".into(), "completed".into(), Some("failure".into())),
            ("test".into(), "in_progress".into(), None),
        ]
    );
    let spent = 5000 - gh.rate().remaining;
    assert_eq!(
        spent,
        1 + 2 * 5,
        "list + (pull, check runs, status, reviews, files) per PR"
    );

    // Nothing changed: the refresh is all 304s, which cost no rate limit.
    let (requests, not_modified) = hub.counts();
    sync_repo(&gh, &db.store, REPO, KEY).await.unwrap();
    let (requests2, not_modified2) = hub.counts();
    assert_eq!(requests2 - requests, not_modified2 - not_modified);
    assert_eq!(5000 - gh.rate().remaining, spent);

    // One PR merged, the other's head moved: only what changed is fetched again.
    hub.update_pull(REPO, 43, |p| {
        p.state = "merged".into();
        p.updated_at = "2026-11-21T10:00:00Z".into();
        p.merge_commit_sha = Some("5c0a5e0000000000000000000000000000000043".into());
    });
    hub.update_pull(REPO, 42, |p| p.head_sha = "a2".into());
    let s = sync_repo(&gh, &db.store, REPO, KEY).await.unwrap();
    assert_eq!((s.open, s.closed), (1, 1));
    let changes = db.store.change_requests().await.unwrap();
    let merged = changes
        .iter()
        .find(|c| c.id == change_id(REPO, 43))
        .unwrap();
    assert_eq!(merged.state, flightdeck_core::model::ChangeState::Merged);
    // GitHub's merge time is kept (cycle time ends there).
    assert_eq!(
        merged.merged_at,
        chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .ok()
            .map(|t| t.timestamp())
    );
    // And the commit the merge put on main (a squash commit ships instead of the head).
    let merge_sha: Option<String> =
        sqlx::query_scalar("SELECT merge_sha FROM change_requests WHERE id = $1")
            .bind(change_id(REPO, 43))
            .fetch_one(db.store.pool())
            .await
            .unwrap();
    assert_eq!(
        merge_sha.as_deref(),
        Some("5c0a5e0000000000000000000000000000000043")
    );
    let moved = changes
        .iter()
        .find(|c| c.id == change_id(REPO, 42))
        .unwrap();
    assert_eq!(moved.head_sha, "a2");
    db.finish().await;
}
both!(prs_checks_and_free_refreshes);

#[tokio::test]
async fn pages_are_followed() {
    let hub = Hub::new();
    for n in 1..=250 {
        hub.add_pull(
            REPO,
            Pr::new(n, &format!("PR {n}"), "bob", &format!("b{n}"), "s"),
        );
    }
    let url = hub.serve(0).await.unwrap();
    let gh = client(&url);
    let all = gh
        .get_all(&format!("/repos/{REPO}/pulls?state=open&per_page=100"))
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    let mut numbers: Vec<u64> = all.iter().map(|p| p["number"].as_u64().unwrap()).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 250);
    assert_eq!(hub.counts().0, 3, "three pages, three requests");
}

#[tokio::test]
async fn server_errors_are_retried_and_limits_stop_the_sync() {
    let (hub, url) = hub_with_prs().await;
    let gh = client(&url);
    hub.push_fault(Fault::Status(502));
    hub.push_fault(Fault::Status(503));
    let (body, _) = gh.get(&format!("/repos/{REPO}/pulls/42")).await.unwrap();
    assert_eq!(body["number"], 42);

    // Four 5xx in a row outlast the retries: a clear error, not a hang.
    for _ in 0..4 {
        hub.push_fault(Fault::Status(500));
    }
    let err = gh
        .get(&format!("/repos/{REPO}/pulls/43"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GitHubError::Http { status: 500, .. }),
        "{err}"
    );

    // A connection dropped halfway through the answer is retried like a 5xx.
    hub.push_fault(Fault::Drop);
    let (body, _) = gh.get(&format!("/repos/{REPO}/pulls/42")).await.unwrap();
    assert_eq!(body["number"], 42);

    // 429 Too Many Requests: a secondary limit, with when to go on.
    hub.push_fault(Fault::TooMany { retry_after: 30 });
    let err = gh
        .get(&format!("/repos/{REPO}/pulls/43"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GitHubError::RateLimited {
                secondary: true,
                ..
            }
        ),
        "{err}"
    );

    // Secondary limit: retry-after is honoured (reported, not slept through).
    hub.push_fault(Fault::Secondary { retry_after: 90 });
    let err = gh
        .get(&format!("/repos/{REPO}/pulls/43"))
        .await
        .unwrap_err();
    let now = chrono::Utc::now().timestamp();
    match err {
        GitHubError::RateLimited { until, secondary } => {
            assert!(secondary);
            assert!((until - now - 90).abs() <= 2, "{until} vs {now}");
        }
        other => panic!("{other}"),
    }

    // Primary limit spent: stop until the reset GitHub gave.
    hub.set_rate_limit(0, now + 1234);
    let db = TestDb::sqlite().await;
    let err = sync_repo(&gh, &db.store, REPO, KEY).await.unwrap_err();
    assert!(
        matches!(err, GitHubError::RateLimited { until, secondary: false } if until == now + 1234),
        "{err}"
    );
    assert!(err.to_string().contains("primary rate limit"), "{err}");
    db.finish().await;
}

#[tokio::test]
async fn bad_credentials_never_echo_the_token() {
    let (hub, url) = hub_with_prs().await;
    hub.require_token("the-right-one");
    let err = client(&url)
        .get(&format!("/repos/{REPO}/pulls"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("HTTP 401: Bad credentials"), "{text}");
    assert!(!text.contains("s3cret-token"));
    assert!(!format!("{:?}", client(&url)).contains("s3cret"));
}

/// Watched repos whose origin is on the forge are refreshed, and how it went is recorded; the
/// inbox puts reviews asked of the token's owner and green agent work first.
async fn watched_repos_with_a_github_origin_are_synced(db: TestDb) {
    use flightdeck_core::domain::forge_sync::sync_all;
    use flightdeck_core::forge::github::{forge_host, ForgeStatus};
    use flightdeck_core::model::Repo;
    let (hub, url) = hub_with_prs().await;
    hub.add_pull(
        REPO,
        Pr::new(44, "Cache results", "codex-bot[bot]", "codex/cache", "c3"),
    );
    hub.set_check_runs(REPO, "c3", &[("build", "completed", Some("success"))]);
    hub.set_statuses(REPO, "c3", &[("ci/lint", "success")]);
    let host = forge_host(&url);
    for (path, remote) in [
        (KEY, Some(format!("http://{host}/{REPO}.git"))),
        ("/w/local-only", None),
        (
            "/w/elsewhere",
            Some("git@gitlab.com:acme/widgets.git".to_string()),
        ),
    ] {
        db.store
            .upsert_repo(&Repo {
                id: path.into(),
                path: Some(path.into()),
                name: path.rsplit('/').next().unwrap().into(),
                default_branch: "main".into(),
                remote_url: remote,
                last_scanned_at: None,
            })
            .await
            .unwrap();
    }
    let status = sync_all(
        &client(&url),
        &db.store,
        &url,
        &["incident".to_string()],
        1_790_000_000,
    )
    .await
    .unwrap();
    assert_eq!((status.repos, status.open), (1, 3));
    assert_eq!(status.error, None);
    assert_eq!(status.login.as_deref(), Some("lead"));
    assert_eq!(status.rate_limit, 5000);
    assert!(status.rate_remaining < 5000);
    assert_eq!(ForgeStatus::load(&db.store).await.unwrap(), Some(status));
    let inbox = flightdeck_core::views::inbox(&db.store).await.unwrap();
    let kinds: Vec<(&str, &str)> = inbox
        .items
        .iter()
        .map(|i| (i.kind.as_str(), i.id.rsplit('#').next().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("failing_check", "42"),
            ("review_requested", "42"),
            ("green_waiting", "44"),
            ("review", "43"),
        ]
    );
    assert_eq!(forge_host("https://api.github.com"), "github.com");
    assert_eq!(forge_host("https://ghe.acme.dev/api/v3"), "ghe.acme.dev");
    db.finish().await;
}
both!(watched_repos_with_a_github_origin_are_synced);

/// A pull request is judged by the repo's policy like a local branch: its checks, approvals
/// and files (from GitHub's files list) count.
#[tokio::test]
async fn pull_requests_get_a_verdict() {
    use flightdeck_core::domain::policy::{judge_change, PolicyFile};
    let (hub, url) = hub_with_prs().await;
    let dir = tempfile::tempdir().unwrap();
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(dir.path(), &init).unwrap();
    support::commit_file(&repo, "main", "README.md", "# w\n", "init");
    let key = dir.path().display().to_string();
    let db = TestDb::sqlite().await;
    // A person approved the current head on GitHub; a bot approved too (not counted), and an
    // approval of an older head does not carry over.
    hub.add_review(REPO, 42, "bob", "APPROVED", "a1");
    hub.add_review(REPO, 42, "merge-bot[bot]", "APPROVED", "a1");
    hub.add_review(REPO, 42, "carol", "APPROVED", "a0");
    hub.update_pull(REPO, 42, |p| {
        p.files.push((
            "migrations/0042_index.sql".into(),
            "added".into(),
            Some("@@ -0,0 +1 @@\n+CREATE INDEX i ON t (c);".into()),
        ));
    });
    sync_repo(&client(&url), &db.store, REPO, &key)
        .await
        .unwrap();
    let pr = db
        .store
        .change_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == change_id(REPO, 42))
        .unwrap();
    let file = PolicyFile::parse(
        "[default]\nrequired_checks = [\"build\", \"ci/lint\"]\n[[default.protected]]\npaths = [\"migrations/**\"]\napprovals = 2\n",
        std::path::Path::new("policy.toml"),
    )
    .unwrap();
    let v = judge_change(&db.store, &file, &pr, 1_790_000_000)
        .await
        .unwrap();
    let failing: Vec<&str> = v
        .reasons
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.message.as_str())
        .collect();
    assert!(!v.pass);
    assert!(
        failing.contains(&"required check `ci/lint` failure"),
        "{failing:?}"
    );
    assert!(
        !failing.iter().any(|m| m.contains("`build`")),
        "{failing:?}"
    );
    assert!(
        failing
            .iter()
            .any(|m| m.contains("1 protected path") && m.contains("1 of 2 approvals")),
        "{failing:?}"
    );
    let counted: Vec<&str> = v
        .reasons
        .iter()
        .filter(|r| r.rule == "approvals")
        .map(|r| r.message.as_str())
        .collect();
    assert!(
        counted.contains(&"1 of 1 human approvals an agent-authored change needs"),
        "{counted:?}"
    );
    assert!(
        counted.contains(&"merge-bot[bot] is an agent: its approval is not counted"),
        "{counted:?}"
    );

    // A review given later moves the PR's updated_at, so the next refresh fetches it.
    hub.add_review(REPO, 42, "dave", "CHANGES_REQUESTED", "a1");
    sync_repo(&client(&url), &db.store, REPO, &key)
        .await
        .unwrap();
    let reviewers: Vec<String> = db
        .store
        .reviews()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.change_request == pr.id)
        .map(|r| r.reviewer)
        .collect();
    assert!(reviewers.contains(&"dave".to_string()), "{reviewers:?}");
    db.finish().await;
}

/// Reviews, merges and closes sent to GitHub through the outbox while the fake fails at
/// random — before acting (5xx, secondary limits) and after acting with the answer lost: every
/// action lands exactly once (one review carrying its key; one merge per pull request, with the
/// method asked for; one close).
async fn decisions_reach_github_exactly_once(db: TestDb) {
    use flightdeck_core::domain::outbox::{self, Appliers, LocalApplier, Payload};
    use flightdeck_core::domain::outbox::{marker, GitHubApplier};
    use flightdeck_core::model::audit::AuditKey;
    let hub = Hub::new();
    hub.add_numbered_pulls(REPO, 14);
    let url = hub.serve(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
    const METHODS: [&str; 3] = ["merge", "squash", "rebase"];
    let appliers = Appliers {
        local: LocalApplier {
            store: db.store.clone(),
            name: "alice".into(),
            email: "alice@acme.dev".into(),
        },
        github: Some(GitHubApplier { gh: client(&url) }),
        growthbook: None,
        reach: Default::default(),
    };
    let mut approvals = Vec::new();
    let now = 1_790_000_000;
    for i in 0..124u64 {
        let (n, kind) = match i {
            0..110 => (i % 10 + 1, ActionKind::Approve),
            110..120 => (i % 10 + 1, ActionKind::Merge),
            _ => (i - 109, ActionKind::Close),
        };
        let p = Payload {
            repo: REPO.into(),
            number: Some(n),
            sha: format!("sha{n}"),
            body: Some(format!("looks good ({i})")),
            method: (kind == ActionKind::Merge).then(|| METHODS[n as usize % 3].to_string()),
            ..Default::default()
        };
        let a = outbox::enqueue(&db.store, kind, &change_id(REPO, n), &p, "alice", now)
            .await
            .unwrap();
        if kind == ActionKind::Approve {
            approvals.push((n, a.idempotency_key));
        }
    }
    hub.push_random_faults(0x2545_f491_4f6c_dd1d, 400, |x| match x % 10 {
        0 | 1 => Fault::Status(502),
        2 | 3 => Fault::AfterApply(504),
        4 => Fault::Secondary { retry_after: 1 },
        _ => Fault::Slow(Duration::from_millis(0)),
    });
    let mut t = now;
    for _ in 0..100 {
        outbox::sync(&db.store, &appliers, &key, t).await.unwrap();
        let actions = db.store.actions().await.unwrap();
        if actions
            .iter()
            .all(|a| a.state == ActionState::Applied || a.state == ActionState::Failed)
        {
            break;
        }
        t += 1_801;
    }
    let actions = db.store.actions().await.unwrap();
    let failed: Vec<_> = actions
        .iter()
        .filter(|a| a.state != ActionState::Applied)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    for (n, k) in &approvals {
        let with_key = hub
            .reviews(REPO, *n)
            .iter()
            .filter(|r| r.3.contains(&marker(k)))
            .count();
        assert_eq!(with_key, 1, "approval {k} on #{n}");
        assert!(hub.reviews(REPO, *n).iter().all(|r| r.2 == "APPROVED"));
    }
    for n in 1..=10 {
        assert_eq!(hub.merges(REPO, n), 1, "#{n} merged once");
        assert_eq!(hub.merge_methods(REPO, n), vec![METHODS[n as usize % 3]]);
    }
    for n in 11..=14 {
        assert_eq!(hub.closes(REPO, n), 1, "#{n} closed once");
    }
    assert!(actions.iter().any(|a| a.attempts > 1), "faults were met");
    db.finish().await;
}
both!(decisions_reach_github_exactly_once);

/// Keeping many repos fresh within the rate limit: after the first sync, a refresh of four
/// repos with 200 open pull requests each costs nothing (every list page a 304, no pull
/// request fetched again); when ten change, only those ten are fetched.
#[tokio::test]
async fn refreshes_cost_only_what_changed() {
    let hub = Hub::new();
    let repos: Vec<String> = (1..=4).map(|i| format!("acme/r{i}")).collect();
    for r in &repos {
        hub.add_numbered_pulls(r, 200);
        for n in 1..=200 {
            hub.set_check_runs(
                r,
                &format!("sha{n}"),
                &[("build", "completed", Some("success"))],
            );
        }
    }
    let url = hub.serve(0).await.unwrap();
    let gh = client(&url);
    let db = TestDb::sqlite().await;
    let sync_all = || async {
        for r in &repos {
            sync_repo(&gh, &db.store, r, &format!("/w/{r}"))
                .await
                .unwrap();
        }
    };
    sync_all().await;
    let first = 5000 - gh.rate().remaining;
    // Per repo: 2 list pages, then per pull request its details, check runs, status, reviews
    // and files.
    assert_eq!(first, 4 * (2 + 200 * 5));
    assert_eq!(db.store.change_requests().await.unwrap().len(), 800);

    let (requests, not_modified) = hub.counts();
    sync_all().await;
    let (requests2, not_modified2) = hub.counts();
    assert_eq!(
        requests2 - requests,
        4 * 2,
        "only the list pages are asked for"
    );
    assert_eq!(
        not_modified2 - not_modified,
        4 * 2,
        "and each is a free 304"
    );
    assert_eq!(5000 - gh.rate().remaining, first);

    for n in 1..=10 {
        hub.update_pull("acme/r3", n, |p| {
            p.updated_at = "2026-11-22T08:00:00Z".into()
        });
    }
    sync_all().await;
    let spent = 5000 - gh.rate().remaining - first;
    // The one list page holding them (200 per repo, newest first: #100…#1 on page 2), and
    // each one's details; their checks, statuses and reviews are unchanged: 304s.
    assert_eq!(spent, 1 + 10);
    db.finish().await;
}

/// A pull request's diff from GitHub's files list: hunks with line numbers; a file GitHub
/// gives no patch for (binary) shown without hunks.
#[tokio::test]
async fn pull_request_diffs_come_from_the_files_list() {
    use flightdeck_core::forge::github::pr_diff;
    let (hub, url) = hub_with_prs().await;
    hub.update_pull(REPO, 42, |p| {
        p.files.push(("logo.png".into(), "added".into(), None));
    });
    let d = pr_diff(&client(&url), REPO, 42, "a1", 1).await.unwrap();
    assert_eq!((d.files_total, d.pages), (2, 1));
    let lib = &d.files[0];
    assert_eq!(
        (lib.path.as_str(), lib.additions, lib.deletions),
        ("src/lib.rs", 2, 1)
    );
    let kinds: Vec<(&str, Option<i64>, Option<i64>)> = lib.hunks[0]
        .lines
        .iter()
        .map(|l| (l.kind.as_str(), l.old, l.new))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (" ", Some(1), Some(1)),
            ("-", Some(2), None),
            ("+", None, Some(2)),
            ("+", None, Some(3))
        ]
    );
    let png = &d.files[1];
    assert!(png.binary && png.hunks.is_empty(), "{png:?}");
}

/// A forge that does not answer is paused, not knocked on once per queued action: one pass over
/// 20 queued decisions tries one and leaves 19 untouched; a decision taken meanwhile is queued
/// without touching the network; nothing is tried before the pause ends; then one probe, and
/// the pause doubles.
async fn an_unreachable_forge_is_paused_not_tried_per_action(db: TestDb) {
    use flightdeck_core::domain::outbox::{self, Appliers, Decide, GitHubApplier, LocalApplier};
    use flightdeck_core::domain::outbox::{Payload, FIRST_PAUSE_SECS};
    use flightdeck_core::model::audit::AuditKey;
    let (_hub, live) = hub_with_prs().await;
    sync_repo(&client(&live), &db.store, REPO, KEY)
        .await
        .unwrap();
    // Nothing listens on port 1: every connection is refused.
    let down = "http://127.0.0.1:1";
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
    let appliers = Appliers {
        local: LocalApplier {
            store: db.store.clone(),
            name: "alice".into(),
            email: "alice@acme.dev".into(),
        },
        github: Some(GitHubApplier { gh: client(down) }),
        growthbook: None,
        reach: Default::default(),
    };
    let now = 1_790_000_000;
    for i in 0..20 {
        let p = Payload {
            repo: REPO.into(),
            number: Some(43),
            sha: "b2".into(),
            body: Some(format!("ok {i}")),
            ..Default::default()
        };
        outbox::enqueue(
            &db.store,
            ActionKind::Approve,
            &change_id(REPO, 43),
            &p,
            "alice",
            now,
        )
        .await
        .unwrap();
    }
    let attempts = |db: &TestDb| {
        let store = db.store.clone();
        async move {
            let mut a: Vec<i64> = store
                .actions()
                .await
                .unwrap()
                .iter()
                .map(|a| a.attempts)
                .collect();
            a.sort();
            a
        }
    };
    let r = outbox::sync_with(&db.store, &appliers, &key, &appliers.reach, now)
        .await
        .unwrap();
    assert_eq!((r.retrying, r.paused, r.applied), (1, 19, 0), "{r:?}");
    let mut want = vec![0; 19];
    want.push(1);
    assert_eq!(attempts(&db).await, want);
    assert_eq!(
        appliers.reach.paused_until(down, now),
        Some(now + FIRST_PAUSE_SECS)
    );

    // A decision on another pull request while the forge is paused: queued, never sent.
    let d = Decide {
        kind: "approve".into(),
        comment: Some("fine".into()),
        method: None,
        override_reason: None,
        send_back: None,
        head_sha: None,
        idempotency_key: None,
        ..Default::default()
    };
    let policy = dir.path().join("no-policy.toml");
    let a = outbox::decide(
        &db.store,
        &key,
        &appliers,
        &policy,
        &change_id(REPO, 42),
        &d,
        lead(),
        now + 1,
    )
    .await
    .unwrap();
    assert_eq!((a.state, a.attempts), (ActionState::Queued, 0), "{a:?}");
    // Even once the host answers again, a decision queued behind an earlier one on the same
    // pull request is left to the sender, which sends them in order.
    appliers.reach.reachable(down);
    let later = outbox::decide(
        &db.store,
        &key,
        &appliers,
        &policy,
        &change_id(REPO, 42),
        &d,
        lead(),
        now + 2,
    )
    .await
    .unwrap();
    assert_eq!(
        (later.state, later.attempts),
        (ActionState::Queued, 0),
        "{later:?}"
    );
    appliers.reach.unreachable(down, now);

    // Within the pause: nothing is tried.
    let r = outbox::sync_with(&db.store, &appliers, &key, &appliers.reach, now + 10)
        .await
        .unwrap();
    assert_eq!((r.retrying, r.paused), (0, 21), "{r:?}");
    // After it: one probe, refused again; the next pause is twice as long.
    let t = now + FIRST_PAUSE_SECS;
    let r = outbox::sync_with(&db.store, &appliers, &key, &appliers.reach, t)
        .await
        .unwrap();
    // (the first action's own retry is due again too: 21 due, one tried)
    assert_eq!((r.retrying, r.paused), (1, 21), "{r:?}");
    assert_eq!(
        appliers.reach.paused_until(down, t),
        Some(t + 2 * FIRST_PAUSE_SECS)
    );
    let tried: i64 = attempts(&db).await.iter().sum();
    assert_eq!(tried, 2, "two attempts in all, for 22 decisions");
    db.finish().await;
}
both!(an_unreachable_forge_is_paused_not_tried_per_action);

/// The lead deciding, with no `[team]` rules.
fn lead() -> flightdeck_core::domain::team::Acting<'static> {
    static LEAD: std::sync::OnceLock<flightdeck_core::domain::team::Person> =
        std::sync::OnceLock::new();
    flightdeck_core::domain::team::Acting::alone(
        LEAD.get_or_init(|| flightdeck_core::domain::team::Person::named("Alice Lead")),
    )
}

/// A server that gives every request the same answer (`head` is the status line and headers),
/// and keeps each request's `authorization` header (`None`: sent without one).
async fn same_answer(
    head: String,
    body: &'static str,
) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&req).to_string();
            let auth = text.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("authorization")
                    .then(|| v.trim().to_string())
            });
            keep.lock().unwrap().push(auth);
            let answer = format!(
                "{head}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_not_followed() {
    let (elsewhere, stolen) = same_answer("HTTP/1.1 200 OK".into(), "[]").await;
    let (api, asked) = same_answer(
        format!(
            "HTTP/1.1 200 OK\r\nlink: <{elsewhere}/repos/acme/widgets/pulls?page=2>; rel=\"next\""
        ),
        "[{\"number\": 1}]",
    )
    .await;
    let err = client(&api)
        .get_all("/repos/acme/widgets/pulls")
        .await
        .unwrap_err();
    assert!(matches!(err, GitHubError::Refused(_)), "{err}");
    assert!(err.to_string().contains(&elsewhere), "{err}");
    assert_eq!(
        *asked.lock().unwrap(),
        vec![Some("Bearer s3cret-token".to_string())]
    );
    assert!(
        stolen.lock().unwrap().is_empty(),
        "the other origin was asked"
    );
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let (elsewhere, stolen) = same_answer("HTTP/1.1 200 OK".into(), "{}").await;
    let (api, asked) = same_answer(
        format!("HTTP/1.1 302 Found\r\nlocation: {elsewhere}/user"),
        "",
    )
    .await;
    let err = client(&api).get("/user").await.unwrap_err();
    assert!(err.to_string().contains("HTTP 302"), "{err}");
    assert!(err.to_string().contains("not followed"), "{err}");
    assert!(err.to_string().contains(&elsewhere), "{err}");
    assert_eq!(asked.lock().unwrap().len(), 1);
    assert!(
        stolen.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
}

#[test]
fn a_token_goes_over_plain_http_only_to_this_machine() {
    for url in [
        "http://ghe.acme.dev/api/v3",
        "http://10.0.0.5:8080",
        "ftp://x",
    ] {
        let err = GitHub::new(url, Some("t".into())).unwrap_err();
        assert!(matches!(err, GitHubError::Refused(_)), "{url}: {err}");
        assert!(err.to_string().contains("only over https"), "{err}");
        // Without a token nothing secret goes: reading a public forge over http is its user's
        // choice.
        GitHub::new(url, None).unwrap();
    }
    for url in [
        "https://ghe.acme.dev/api/v3",
        "http://127.0.0.1:4010",
        "http://localhost:1",
        "http://[::1]:2",
    ] {
        GitHub::new(url, Some("t".into())).unwrap();
    }
}
