//! Velocity split agent vs human and review load, on a fixed set of change requests and
//! reviews whose numbers are counted by hand in the comments.

mod support;

use flightdeck_core::metrics::velocity;
use flightdeck_core::model::ReviewState;
use flightdeck_core::model::{AgentRun, Author, ChangeRequest, ChangeState, Commit, Repo, Review};
use support::{both, TestDb};

const T: i64 = 1_795_000_000;
const DAY: i64 = 86_400;

fn change(
    n: u32,
    agent: bool,
    state: &str,
    opened: i64,
    cost: f64,
    asks: &[&str],
) -> ChangeRequest {
    let author = if agent {
        Author::Agent {
            agent: "claude-code".into(),
        }
    } else {
        Author::Human { name: "Bob".into() }
    };
    ChangeRequest {
        title: format!("Change {n}"),
        state: ChangeState::parse(state).expect("a change state"),
        updated_at: opened + DAY,
        agent_cost_usd: cost,
        requested_reviewers: asks.iter().map(|s| s.to_string()).collect(),
        ..support::merged_change("/w/api", &format!("b{n}"), &format!("h{n}"), author, opened)
    }
}

/// The agent session that worked on branch `b{n}`, costing `cost` (a change's agent cost is
/// that of the runs on its branch).
fn run(n: u32, cost: f64) -> AgentRun {
    AgentRun {
        id: format!("claude-code:s{n}"),
        title: format!("task {n}"),
        ..support::finished_run(&format!("s{n}"), "/w/api", &format!("b{n}"), cost, T)
    }
}

fn review(n: u32, key: &str, who: &str, state: &str, at: i64) -> Review {
    Review {
        action_key: key.into(),
        change_request: format!("local:/w/api:b{n}"),
        head_sha: format!("h{n}"),
        reviewer: who.into(),
        state: ReviewState::parse(state).expect("a review state"),
        body: String::new(),
        at,
    }
}

async fn split_and_review_load_by_hand(db: TestDb) {
    // In range [T, T + 7 days): agents opened 1 (merged, $2), 2 (merged, $4), 3 (closed),
    // 4 (open); people opened 5 (merged), 6 (open). Outside: 7 (agent, merged, before T).
    let changes = [
        change(1, true, "merged", T, 2.0, &[]),
        change(2, true, "merged", T + DAY, 4.0, &[]),
        change(3, true, "closed", T + 2 * DAY, 1.0, &[]),
        change(4, true, "open", T + 3 * DAY, 0.5, &["ana", "bo"]),
        change(5, false, "merged", T + DAY, 0.0, &[]),
        change(6, false, "open", T + 4 * DAY, 0.0, &["ana"]),
        change(7, true, "merged", T - DAY, 9.0, &[]),
    ];
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
    for c in &changes {
        db.store.upsert_change_request(c).await.unwrap();
        if c.agent_cost_usd > 0.0 {
            let n: u32 = c.head[1..].parse().unwrap();
            db.store
                .upsert_agent_run(&run(n, c.agent_cost_usd))
                .await
                .unwrap();
        }
    }
    // Reviews: ana requested changes on 1 then approved it, approved 2; bo requested changes
    // on 5; ana's review of 7 was before the range.
    for r in [
        review(1, "k1", "ana", "changes_requested", T + DAY),
        review(1, "k2", "ana", "approved", T + 2 * DAY),
        review(2, "k3", "ana", "approved", T + 2 * DAY),
        review(5, "k4", "bo", "changes_requested", T + 2 * DAY),
        review(7, "k5", "ana", "approved", T - DAY / 2),
    ] {
        db.store.add_review(&r).await.unwrap();
    }
    // Reverts on main: of change 2 (by its title), of change 5's merge made here, of change
    // 7 (opened before the range), of the head commit of change 6 (not merged: not counted),
    // and a revert of a revert of change 1, which puts change 1 back.
    let commit = |sha: &str, summary: &str| Commit {
        repo: "/w/api".into(),
        sha: sha.into(),
        author_name: "Bob".into(),
        author_email: "bob@example.com".into(),
        authored_at: T + 5 * DAY,
        committed_at: T + 5 * DAY,
        summary: summary.into(),
        agent: None,
        files_changed: Some(1),
        insertions: Some(0),
        deletions: Some(1),
    };
    db.store
        .upsert_commits(&[
            commit("h6", "Work on six"),
            commit("r1", "Revert \"Change 2\""),
            commit("r2", "Revert \"Merge branch 'b5' into main\""),
            commit("r3", "Revert \"Change 7\""),
            commit("r4", "Revert \"Work on six\""),
            commit("r5", "Revert \"Revert \"Change 1\"\""),
        ])
        .await
        .unwrap();
    let v = velocity::report(&db.store, T, T + 7 * DAY).await.unwrap();
    let agents = &v.split[0];
    // Reverted: change 2 of the agents' two merged; change 5, the people's one.
    assert_eq!((agents.reverted, agents.revert_rate), (1, Some(0.5)));
    assert_eq!(
        (v.split[1].reverted, v.split[1].revert_rate),
        (1, Some(1.0))
    );
    assert_eq!(agents.kind, "agent");
    assert_eq!((agents.opened, agents.merged, agents.closed), (4, 2, 1));
    // Accepted: 2 of the 3 decided.
    assert!((agents.acceptance_rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
    // Reworked: change 1 only, of 4 opened.
    assert_eq!(agents.reworked, 1);
    assert!((agents.rework_rate.unwrap() - 0.25).abs() < 1e-9);
    // ($2 + $4) / 2 merged.
    assert!((agents.cost_per_merged_usd.unwrap() - 3.0).abs() < 1e-9);
    let people = &v.split[1];
    assert_eq!((people.opened, people.merged, people.closed), (2, 1, 0));
    assert_eq!(people.acceptance_rate, Some(1.0));
    assert_eq!(people.reworked, 1);
    // Reviewers: ana 3 reviews in range (2 approvals, 1 changes requested) and 2 waiting
    // (4 and 6); bo 1 review (changes requested) and 1 waiting (4).
    let ana = &v.reviewers[0];
    assert_eq!(
        (
            ana.reviewer.as_str(),
            ana.reviews,
            ana.approvals,
            ana.changes_requested,
            ana.waiting
        ),
        ("ana", 3, 2, 1, 2)
    );
    let bo = &v.reviewers[1];
    assert_eq!(
        (
            bo.reviewer.as_str(),
            bo.reviews,
            bo.approvals,
            bo.changes_requested,
            bo.waiting
        ),
        ("bo", 1, 0, 1, 1)
    );
    // An empty range decides nothing: no rates rather than zeros.
    let none = velocity::report(&db.store, T + 30 * DAY, T + 31 * DAY)
        .await
        .unwrap();
    assert_eq!(none.split[0].acceptance_rate, None);
    assert_eq!(none.split[0].cost_per_merged_usd, None);
    db.finish().await;
}
both!(split_and_review_load_by_hand);
