//! Views at team scale: what a view lists is bounded by what a person can read, and each row
//! carries its own checks, reviews, runs and paths however many others the store holds.

mod support;

use flightdeck_core::model::{
    AgentRun, Author, ChangeKind, ChangeRequest, ChangeState, Check, Review, ReviewState, RunState,
};
use flightdeck_core::views;
use support::{both, TestDb};

fn change(id: &str, repo: &str, head: &str, state: ChangeState, updated_at: i64) -> ChangeRequest {
    let agent = Author::Agent {
        agent: "claude-code".into(),
    };
    ChangeRequest {
        id: id.into(),
        kind: ChangeKind::Github,
        title: format!("change {id}"),
        state,
        updated_at,
        merged_at: (state == ChangeState::Merged).then_some(updated_at),
        ..support::merged_change(repo, head, &format!("sha-{id}"), agent, updated_at - 600)
    }
}

fn run(id: &str, repo: &str, branch: &str, cost: f64) -> AgentRun {
    support::finished_run(id, repo, branch, cost, 2_000)
}

/// 250 merged changes and 3 open ones: the view lists the 3 and the 200 merged last, each
/// with only its own checks, reviews, runs and stored paths, judged by the policy file.
async fn the_changes_view_lists_open_and_recent_changes_with_their_own_facts(db: TestDb) {
    let s = &db.store;
    let repo = "github.com/acme/api";
    for i in 0..250 {
        let id = format!("github:acme/api#{i}");
        s.upsert_change_request(&change(
            &id,
            repo,
            &format!("old/{i}"),
            ChangeState::Merged,
            10_000 + i,
        ))
        .await
        .unwrap();
        // Every merged change has a check, a review and a run: none may reach an open one.
        s.upsert_check(&Check {
            change_request: id.clone(),
            name: "build".into(),
            status: "completed".into(),
            conclusion: Some("failure".into()),
            url: None,
            ever_failed: true,
        })
        .await
        .unwrap();
        s.add_review(&Review {
            action_key: format!("rv-old-{i}"),
            change_request: id.clone(),
            head_sha: format!("sha-{id}"),
            reviewer: "ana".into(),
            state: ReviewState::Approved,
            body: String::new(),
            at: 10_000 + i,
        })
        .await
        .unwrap();
        s.upsert_agent_run(&run(
            &format!("old-run-{i}"),
            repo,
            &format!("old/{i}"),
            1.0,
        ))
        .await
        .unwrap();
    }
    for (n, head) in ["claude/a", "claude/b", "claude/c"].iter().enumerate() {
        let id = format!("github:acme/api#{}", 1_000 + n);
        s.upsert_change_request(&change(
            &id,
            repo,
            head,
            ChangeState::Open,
            20_000 + n as i64,
        ))
        .await
        .unwrap();
        s.upsert_check(&Check {
            change_request: id.clone(),
            name: "test".into(),
            status: "completed".into(),
            conclusion: Some("success".into()),
            url: None,
            ever_failed: false,
        })
        .await
        .unwrap();
        s.upsert_agent_run(&run(&format!("run-{n}"), repo, head, 2.5))
            .await
            .unwrap();
        if n != 2 {
            s.add_review(&Review {
                action_key: format!("rv-{n}"),
                change_request: id.clone(),
                head_sha: format!("sha-{id}"),
                reviewer: "lead".into(),
                state: ReviewState::Approved,
                body: String::new(),
                at: 20_000,
            })
            .await
            .unwrap();
        }
        // #1001 touches a protected path; #1000's paths were stored for an older head.
        let (sha, path) = match n {
            0 => ("an-older-head".to_string(), "src/lib.rs"),
            1 => (format!("sha-{id}"), "migrations/0001.sql"),
            _ => (format!("sha-{id}"), "src/lib.rs"),
        };
        s.set_change_files(&id, &sha, &[path.to_string()])
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[default]\nagent_approvals = 1\n[[default.protected]]\npaths = [\"migrations/**\"]\napprovals = 2\n",
    )
    .unwrap();

    let view = views::changes(s, Some(&policy)).await.unwrap();
    assert_eq!(view.changes.len(), 3 + views::RECENT_CLOSED as usize);
    assert_eq!(view.closed_not_listed, 50);
    let ids: Vec<&str> = view.changes.iter().map(|r| r.change.id.as_str()).collect();
    assert_eq!(
        &ids[..4],
        [
            "github:acme/api#1002",
            "github:acme/api#1001",
            "github:acme/api#1000",
            "github:acme/api#249"
        ]
    );
    assert_eq!(
        ids.last(),
        Some(&"github:acme/api#50"),
        "the 200 merged last"
    );
    for row in &view.changes {
        assert!(row.checks.iter().all(|k| k.change_request == row.change.id));
        assert_eq!(row.checks.len(), 1);
        assert_eq!(row.runs.len(), 1, "{}: its own run", row.change.id);
    }
    let row = |n: usize| &view.changes[2 - n];
    for n in 0..3 {
        assert_eq!(row(n).runs, [format!("run-{n}")]);
        assert_eq!(row(n).change.agent_cost_usd, 2.5);
        assert_eq!(row(n).checks[0].name, "test");
    }
    let failing = |n: usize| -> Vec<String> {
        row(n)
            .verdict
            .as_ref()
            .unwrap_or_else(|| panic!("{:?}", row(n).policy_error))
            .reasons
            .iter()
            .filter(|r| !r.ok)
            .map(|r| r.rule.clone())
            .collect()
    };
    // Approved; its stored paths are for another head, so protected paths are unchecked.
    assert_eq!(failing(0), ["protected"], "{:?}", row(0).verdict);
    // Approved once, but its stored paths touch a protected path that needs two.
    assert_eq!(failing(1), ["protected"], "{:?}", row(1).verdict);
    // Paths known and unprotected, but no approval.
    assert_eq!(failing(2), ["approvals"], "{:?}", row(2).verdict);
    assert!(
        row(0)
            .verdict
            .as_ref()
            .unwrap()
            .reasons
            .iter()
            .any(|r| r.message.contains("not known")),
        "{:?}",
        row(0).verdict
    );
    db.finish().await;
}
both!(the_changes_view_lists_open_and_recent_changes_with_their_own_facts);

/// 600 finished runs and 3 still going: the cards count all 603, the list holds the 3 and the
/// 500 started last.
async fn the_agents_view_lists_going_and_recent_runs_and_counts_all(db: TestDb) {
    let s = &db.store;
    for i in 0..603i64 {
        let mut r = run(&format!("r{i:03}"), "github.com/acme/api", "main", 0.5);
        r.agent = if i % 3 == 0 { "codex" } else { "claude-code" }.into();
        r.started_at = 1_000 + i;
        r.tokens.input = 10;
        // The three oldest are still going: listed however old.
        r.state = match i {
            0 | 1 => RunState::Running,
            2 => RunState::Idle,
            _ => RunState::Finished,
        };
        s.upsert_agent_run(&r).await.unwrap();
    }
    let view = views::agents(s).await.unwrap();
    let cards: Vec<(&str, i64, i64, i64)> = view
        .agents
        .iter()
        .map(|a| (a.agent.as_str(), a.runs, a.running, a.tokens.input))
        .collect();
    assert_eq!(
        cards,
        [("claude-code", 402, 1, 4020), ("codex", 201, 1, 2010)]
    );
    let cost: f64 = view.agents.iter().map(|a| a.cost_usd).sum();
    assert!((cost - 301.5).abs() < 1e-6, "{cost}");
    assert_eq!(view.runs.len(), 503);
    assert_eq!(view.runs_not_listed, 100);
    assert_eq!(view.runs[0].id, "r602", "newest first");
    let tail: Vec<&str> = view.runs[500..].iter().map(|r| r.id.as_str()).collect();
    assert_eq!(tail, ["r002", "r001", "r000"]);
    assert!(
        !view.runs.iter().any(|r| r.id == "r099"),
        "an old finished run is not listed"
    );
    db.finish().await;
}
both!(the_agents_view_lists_going_and_recent_runs_and_counts_all);

/// The data version (what the server's view cache keys on) moves with every commit, by this
/// connection's pool or another process's, and (SQLite) stays put while nothing is written.
async fn the_data_version_moves_with_every_writer(db: TestDb) {
    let s = &db.store;
    let v0 = s.data_version().await.unwrap();
    if s.backend() == flightdeck_core::store::Backend::Sqlite {
        // (A PostgreSQL server's snapshot also moves with other databases' writes: other tests.)
        views::changes(s, None).await.unwrap();
        views::agents(s).await.unwrap();
        views::inbox(s).await.unwrap();
        assert_eq!(s.data_version().await.unwrap(), v0, "reads only");
    }
    s.set_cursor("test", "k", "1", 0).await.unwrap();
    let v1 = s.data_version().await.unwrap();
    assert_ne!(v1, v0, "a write by this store");
    let other = flightdeck_core::store::Store::open(&db.url).await.unwrap();
    other.set_cursor("test", "k", "2", 0).await.unwrap();
    assert_ne!(s.data_version().await.unwrap(), v1, "a write by another");
    other.close().await;
    db.finish().await;
}
both!(the_data_version_moves_with_every_writer);

/// 250 deploys to production and 3 to staging: the view lists the 200 newest, and each
/// environment's live, pending and failed deploys come from its own newest ones.
async fn the_releases_view_lists_recent_deploys_and_every_environment(db: TestDb) {
    use flightdeck_core::model::{Contents, DeployStatus, Deployment};
    let s = &db.store;
    let deploy = |id: String, env: &str, status: DeployStatus, at: i64| Deployment {
        id,
        repo: "github.com/acme/api".into(),
        environment: env.into(),
        sha: format!("{at:040x}"),
        status,
        created_at: at,
        source: "test".into(),
        contents: Contents::Unknown,
    };
    for i in 0..250i64 {
        // Newest: in progress, then failed, then the live one; older ones mixed.
        let status = match i {
            249 => DeployStatus::InProgress,
            248 => DeployStatus::Failure,
            247 => DeployStatus::Success,
            i if i % 5 == 0 => DeployStatus::Failure,
            i if i % 7 == 0 => DeployStatus::Queued,
            _ => DeployStatus::Success,
        };
        s.upsert_deployment(&deploy(
            format!("p{i:03}"),
            "production",
            status,
            10_000 + i,
        ))
        .await
        .unwrap();
    }
    for (i, status) in [
        DeployStatus::Failure,
        DeployStatus::Queued,
        DeployStatus::Failure,
    ]
    .into_iter()
    .enumerate()
    {
        s.upsert_deployment(&deploy(
            format!("s{i}"),
            "staging",
            status,
            5_000 + i as i64,
        ))
        .await
        .unwrap();
    }
    let view = views::releases(s).await.unwrap();
    assert_eq!(view.deployments.len(), views::RECENT_DEPLOYS as usize);
    assert_eq!(view.deployments_not_listed, 53);
    assert_eq!(view.deployments[0].id, "p249");
    // (environment, deploys, live, pending, failed)
    type Env<'a> = (&'a str, i64, Option<&'a str>, Vec<&'a str>, Option<&'a str>);
    let envs: Vec<Env> = view
        .environments
        .iter()
        .map(|e| {
            (
                e.environment.as_str(),
                e.deploys,
                e.live.as_ref().map(|d| d.id.as_str()),
                e.pending.iter().map(|d| d.id.as_str()).collect(),
                e.failed.as_ref().map(|d| d.id.as_str()),
            )
        })
        .collect();
    assert_eq!(
        envs,
        [
            ("production", 250, Some("p247"), vec!["p249"], Some("p248")),
            // Never live: the newest failure, and what waits.
            ("staging", 3, None, vec!["s1"], Some("s2")),
        ]
    );
    db.finish().await;
}
both!(the_releases_view_lists_recent_deploys_and_every_environment);
