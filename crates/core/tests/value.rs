//! What the spend buys, by hand: cost per merged agent change and per merged line, the cost of
//! runs that produced nothing merged, and agent cost per hour of human review.

mod support;

use flightdeck_core::metrics::value::value;
use flightdeck_core::model::ReviewState;
use flightdeck_core::model::{AgentRun, Author, ChangeRequest, ChangeState, Repo, Review};
use support::{both, TestDb};

const NOW: i64 = 1_795_176_000;
const DAY: i64 = 86_400;

fn run(id: &str, branch: &str, cost: f64, ended: i64) -> AgentRun {
    support::finished_run(id, "/w/api", branch, cost, ended)
}

fn change(branch: &str, state: &str, author: Author, lines: (i64, i64)) -> ChangeRequest {
    ChangeRequest {
        state: ChangeState::parse(state).expect("a change state"),
        updated_at: NOW - 8 * DAY,
        insertions: Some(lines.0),
        deletions: Some(lines.1),
        ..support::merged_change("/w/api", branch, "h", author, NOW - 9 * DAY)
    }
}

async fn value_by_hand(db: TestDb) {
    db.store
        .upsert_repo(&Repo {
            id: "/w/api".into(),
            path: Some("/w/api".into()),
            name: "api".into(),
            default_branch: "main".into(),
            remote_url: None,
            last_scanned_at: None,
        })
        .await
        .unwrap();
    for r in [
        run("r1", "claude/a", 2.0, NOW - 10 * DAY),
        run("r2", "claude/a", 1.0, NOW - 10 * DAY),
        run("r3", "codex/b", 4.0, NOW - 10 * DAY),
        run("r4", "claude/c", 0.5, NOW - 8 * DAY), // its change was closed
        run("r5", "claude/d", 0.25, NOW - 9 * DAY), // no change at all
        run("r6", "main", 1.0, NOW - 9 * DAY),     // straight onto main
        run("r7", "claude/e", 3.0, NOW - DAY),     // too recent to call
    ] {
        db.store.upsert_agent_run(&r).await.unwrap();
    }
    let agent = || Author::Agent {
        agent: "claude-code".into(),
    };
    for c in [
        change("claude/a", "merged", agent(), (30, 10)),
        change("codex/b", "merged", agent(), (100, 0)),
        change("claude/c", "closed", agent(), (5, 5)),
        change(
            "people/h",
            "merged",
            Author::Human { name: "bob".into() },
            (7, 7),
        ),
    ] {
        db.store.upsert_change_request(&c).await.unwrap();
    }
    let created = NOW - 9 * DAY;
    for (key, reviewer, at) in [
        ("k1", "review-bot[bot]", created + 3_600),
        ("k2", "alice", created + 2 * 3_600),
        ("k3", "bob", created + 5 * 3_600),
    ] {
        db.store
            .add_review(&Review {
                action_key: key.into(),
                change_request: "local:/w/api:claude/a".into(),
                head_sha: "h".into(),
                reviewer: reviewer.into(),
                state: ReviewState::Approved,
                body: String::new(),
                at,
            })
            .await
            .unwrap();
    }
    let v = value(&db.store, NOW - 30 * DAY, NOW).await.unwrap();
    assert_eq!(v.merged_changes, 2);
    assert!((v.merged_cost_usd - 7.0).abs() < 1e-9);
    assert_eq!(v.cost_per_merged_change, Some(3.5));
    assert_eq!(v.merged_lines, 140);
    assert_eq!(v.cost_per_merged_line, Some(0.05));
    // Only claude/a had a human review, 2 h after it opened (the bot's does not count).
    assert!((v.review_hours - 2.0).abs() < 1e-9);
    assert_eq!(v.cost_per_review_hour, Some(1.5));
    assert_eq!(v.abandoned_runs, 2);
    assert!((v.abandoned_cost_usd - 0.75).abs() < 1e-9);
    // Nothing in range: no figures rather than zeros.
    let none = value(&db.store, NOW, NOW).await.unwrap();
    assert_eq!(
        (none.merged_changes, none.cost_per_merged_change),
        (0, None)
    );
    db.finish().await;
}
both!(value_by_hand);
