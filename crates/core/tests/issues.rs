//! GitHub issues as work items, and reassignment carried to GitHub through the outbox, against
//! the local fake GitHub: issues (not pull requests) read with assignees and labels; a
//! reassignment made offline waits in the outbox (a sync meanwhile does not undo it) and is
//! applied exactly once when GitHub is back, also when GitHub's answer is lost; an assignee
//! GitHub ignores (no push access) fails by name; handing an issue to an agent labels it.
//! Issues labelled `incident`, open or closed, become incidents with GitHub's own times.

mod support;

use std::time::Duration;

use fakehub::{Fault, Hub, Issue, Pr};
use flightdeck_core::domain::incidents;
use flightdeck_core::domain::issues::sync_issues;
use flightdeck_core::domain::outbox;
use flightdeck_core::domain::outbox::GitHubApplier;
use flightdeck_core::domain::work;
use flightdeck_core::forge::github::GitHub;
use flightdeck_core::model::audit::AuditKey;
use flightdeck_core::model::{ActionState, WorkState};
use support::{both, TestDb};

const REPO: &str = "acme/widgets";
const KEY: &str = "/w/widgets";
const NOW: i64 = 1_795_176_000;

fn client(url: &str) -> GitHub {
    GitHub::new(url, None)
        .unwrap()
        .with_backoff(Duration::from_millis(5))
}

fn applier(url: &str) -> GitHubApplier {
    GitHubApplier { gh: client(url) }
}

async fn reassignment_reaches_github_once(db: TestDb) {
    let hub = Hub::new();
    let mut bug = Issue::new(42, "Retry merge on 405", "GitHub answers 405 when…");
    bug.assignees = vec!["dev-alice".into()];
    bug.labels = vec!["bug".into()];
    hub.add_issue(REPO, bug);
    let mut agent_work = Issue::new(43, "Document the API", "");
    agent_work.labels = vec!["agent:claude".into()];
    hub.add_issue(REPO, agent_work);
    hub.add_issue(REPO, Issue::new(44, "Flaky checkout test", ""));
    hub.add_pull(REPO, Pr::new(7, "A pull request", "bob", "bob/x", "s7"));
    for login in ["dev-alice", "dev-bob"] {
        hub.add_collaborator(REPO, login);
    }
    let url = hub.serve(0).await.unwrap();
    let gh = client(&url);

    // Issues, not pull requests, become work items with their assignee and labels.
    let open = sync_issues(&gh, &db.store, REPO, KEY, NOW).await.unwrap();
    assert_eq!(open, 3);
    let items = db.store.work_items().await.unwrap();
    assert_eq!(items.len(), 3, "{items:?}");
    let find = |items: &[flightdeck_core::model::WorkItem], id: &str| {
        items.iter().find(|w| w.id == id).cloned().unwrap()
    };
    let w42 = find(&items, "github:acme/widgets#42");
    assert_eq!(w42.assignee.as_deref(), Some("person:dev-alice"));
    assert_eq!(w42.labels, ["bug"]);
    assert_eq!(
        (w42.source.as_str(), w42.repo.as_deref()),
        ("github", Some(KEY))
    );
    let w43 = find(&items, "github:acme/widgets#43");
    assert_eq!(
        w43.assignee.as_deref(),
        Some("agent:claude"),
        "by its agent label"
    );

    // Offline: the reassignment is made here at once and waits in the outbox.
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
    let by = |now| work::Actor {
        key: &key,
        name: "lead",
        now,
    };
    work::assign(&db.store, &by(NOW + 1), &w42.id, "person:dev-bob".into())
        .await
        .unwrap();
    let offline = applier("http://127.0.0.1:9");
    let r = outbox::sync(&db.store, &offline, &key, NOW + 2)
        .await
        .unwrap();
    assert_eq!((r.applied, r.retrying), (0, 1));
    assert!(hub.issue(REPO, 42).unwrap().assignees == ["dev-alice"]);
    // A sync that reads GitHub meanwhile does not undo the lead's newer word.
    sync_issues(&gh, &db.store, REPO, KEY, NOW + 3)
        .await
        .unwrap();
    let w = find(&db.store.work_items().await.unwrap(), &w42.id);
    assert_eq!(w.assignee.as_deref(), Some("person:dev-bob"));

    // Online: applied once, and never again.
    let online = applier(&url);
    let due = NOW + 10_000;
    let r = outbox::sync(&db.store, &online, &key, due).await.unwrap();
    assert_eq!(r.applied, 1, "{r:?}");
    assert_eq!(hub.issue(REPO, 42).unwrap().assignees, ["dev-bob"]);
    assert_eq!(hub.assignee_posts(REPO, 42), 1);
    let r = outbox::sync(&db.store, &online, &key, due + 10_000)
        .await
        .unwrap();
    assert_eq!(r, outbox::SyncReport::default());
    assert_eq!(hub.assignee_posts(REPO, 42), 1);
    let actions = db.store.actions().await.unwrap();
    assert_eq!(actions[0].state, ActionState::Applied);
    assert!(actions[0].result.as_deref().unwrap().contains("dev-bob"));

    // GitHub applies the next one but its answer is lost: the retry finds it done and does
    // not post again.
    let w44 = "github:acme/widgets#44";
    work::assign(&db.store, &by(due), w44, "person:dev-alice".into())
        .await
        .unwrap();
    hub.push_fault(Fault::AfterApply(502));
    let t = due + 20_000;
    let r = outbox::sync(&db.store, &online, &key, t).await.unwrap();
    assert_eq!(r.retrying, 1, "{r:?}");
    assert_eq!(hub.issue(REPO, 44).unwrap().assignees, ["dev-alice"]);
    let r = outbox::sync(&db.store, &online, &key, t + 10_000)
        .await
        .unwrap();
    assert_eq!(r.confirmed, 1, "{r:?}");
    assert_eq!(hub.assignee_posts(REPO, 44), 1, "posted once");

    // Someone GitHub cannot assign (no push access) is ignored there: the action fails by name.
    let t = t + 20_000;
    work::assign(&db.store, &by(t), &w42.id, "person:mallory".into())
        .await
        .unwrap();
    let r = outbox::sync(&db.store, &online, &key, t + 1).await.unwrap();
    assert_eq!(r.failed, 1, "{r:?}");
    let failed = db
        .store
        .actions()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.state == ActionState::Failed)
        .unwrap();
    let why = failed.last_error.unwrap();
    assert!(
        why.contains("did not assign mallory") && why.contains(REPO),
        "{why}"
    );

    // Handed from its agent to a person: assigned, and the agent label goes.
    work::assign(&db.store, &by(t + 2), &w43.id, "person:dev-bob".into())
        .await
        .unwrap();
    let r = outbox::sync(&db.store, &online, &key, t + 3).await.unwrap();
    assert_eq!(r.applied, 1, "{r:?}");
    let issue = hub.issue(REPO, 43).unwrap();
    assert_eq!(issue.assignees, ["dev-bob"]);
    assert!(issue.labels.is_empty(), "{:?}", issue.labels);
    // Handed back to an agent: labelled for it.
    work::assign(&db.store, &by(t + 4), &w43.id, "agent:codex".into())
        .await
        .unwrap();
    outbox::sync(&db.store, &online, &key, t + 5).await.unwrap();
    let issue = hub.issue(REPO, 43).unwrap();
    assert_eq!(issue.labels, ["agent:codex"]);
    assert_eq!(issue.assignees, Vec::<String>::new(), "the person let go");

    // Closed on GitHub: done here.
    hub.add_issue(REPO, {
        let mut i = Issue::new(42, "Retry merge on 405", "");
        i.state = "closed".into();
        i
    });
    sync_issues(&gh, &db.store, REPO, KEY, t + 6).await.unwrap();
    let w = find(&db.store.work_items().await.unwrap(), &w42.id);
    assert_eq!(w.state, WorkState::Done);
    db.finish().await;
}
both!(reassignment_reaches_github_once);

async fn stored_ids(db: &TestDb) -> Vec<String> {
    let stored = db.store.incidents(None, 0).await.unwrap();
    stored.into_iter().map(|i| i.id).collect()
}

async fn incident_issues_are_read_with_their_own_times(db: TestDb) {
    let hub = Hub::new();
    let mut outage = Issue::new(50, "Checkout down", "");
    outage.labels = vec!["incident".into(), "sev1".into()];
    outage.state = "closed".into();
    outage.created_at = "2026-11-20T09:00:00Z".into();
    outage.closed_at = Some("2026-11-20T10:30:00Z".into());
    hub.add_issue(REPO, outage);
    let mut ongoing = Issue::new(51, "Slow search", "");
    ongoing.labels = vec!["incident".into()];
    ongoing.created_at = "2026-11-21T08:00:00Z".into();
    hub.add_issue(REPO, ongoing);
    // Not incidents: an ordinary bug, and a pull request.
    let mut bug = Issue::new(52, "Typo", "");
    bug.labels = vec!["bug".into()];
    hub.add_issue(REPO, bug);
    hub.add_pull(REPO, Pr::new(7, "A pull request", "bob", "bob/x", "s7"));
    let url = hub.serve(0).await.unwrap();
    let gh = client(&url);
    let labels = vec!["incident".to_string()];

    let sync = incidents::sync_github(&gh, &db.store, REPO, KEY, &labels)
        .await
        .unwrap();
    assert_eq!((sync.incidents, sync.skipped.len()), (2, 0));
    let got = db.store.incidents(Some(KEY), 0).await.unwrap();
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].id, "github:acme/widgets#50");
    assert_eq!(got[0].opened_at, t("2026-11-20T09:00:00Z"));
    assert_eq!(got[0].closed_at, Some(t("2026-11-20T10:30:00Z")));
    assert_eq!(got[0].url, "https://github.com/acme/widgets/issues/50");
    assert_eq!(
        (got[1].id.as_str(), got[1].closed_at),
        ("github:acme/widgets#51", None)
    );

    // The label taken off one: it is no longer an incident; the other one closes.
    hub.add_issue(REPO, {
        let mut i = Issue::new(50, "Checkout down", "");
        i.labels = vec!["sev1".into()];
        i
    });
    hub.add_issue(REPO, {
        let mut i = Issue::new(51, "Slow search", "");
        i.labels = vec!["incident".into()];
        i.state = "closed".into();
        i.created_at = "2026-11-21T08:00:00Z".into();
        i.closed_at = Some("2026-11-21T09:00:00Z".into());
        i
    });
    incidents::sync_github(&gh, &db.store, REPO, KEY, &labels)
        .await
        .unwrap();
    let got = db.store.incidents(None, 0).await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].closed_at, Some(t("2026-11-21T09:00:00Z")));

    // A malformed time is skipped and named; the rest is read.
    hub.add_issue(REPO, {
        let mut i = Issue::new(53, "Broken", "");
        i.labels = vec!["incident".into()];
        i.created_at = "yesterday".into();
        i
    });
    hub.add_issue(REPO, {
        let mut i = Issue::new(54, "Queue stuck", "");
        i.labels = vec!["incident".into()];
        i
    });
    let sync = incidents::sync_github(&gh, &db.store, REPO, KEY, &labels)
        .await
        .unwrap();
    assert_eq!(sync.incidents, 2);
    assert_eq!(
        sync.skipped,
        ["acme/widgets incidents: issue #53: `created_at` is not a time: `yesterday`"]
    );
    let ids = stored_ids(&db).await;
    assert_eq!(
        ids,
        ["github:acme/widgets#54", "github:acme/widgets#51"].map(String::from)
    );

    // A team's own labels: any of them makes an incident (one with both counts once); a label
    // with a space is asked for as such.
    hub.add_issue(REPO, {
        let mut i = Issue::new(55, "Payments down", "");
        i.labels = vec!["sev 1".into()];
        i
    });
    hub.add_issue(REPO, {
        let mut i = Issue::new(54, "Queue stuck", "");
        i.labels = vec!["incident".into(), "sev 1".into()];
        i
    });
    let theirs = vec!["incident".to_string(), "sev 1".to_string()];
    let sync = incidents::sync_github(&gh, &db.store, REPO, KEY, &theirs)
        .await
        .unwrap();
    assert_eq!(sync.incidents, 3, "{sync:?}");
    let ids = stored_ids(&db).await;
    assert!(
        ids.contains(&"github:acme/widgets#55".to_string()),
        "{ids:?}"
    );
    assert_eq!(ids.len(), 3, "{ids:?}");
    db.finish().await;
}
both!(incident_issues_are_read_with_their_own_times);
