//! Vendor concentration by hand: the HHI of spend and of merged agent work, the inbox warning
//! above the threshold, and what stops when a vendor is down.

mod support;

use flightdeck_core::metrics::concentration::{concentration, hhi, if_down};
use flightdeck_core::model::{AgentRun, Author, ChangeRequest, RunState, SpendRecord, Tokens};
use flightdeck_core::views::InboxKind;
use support::{both, TestDb};

const NOW: i64 = 1_795_176_000; // 2026-11-20

#[test]
fn hhi_by_hand() {
    assert!((hhi(&[80.0, 20.0]) - 6_800.0).abs() < 1e-9);
    assert!((hhi(&[1.0, 1.0]) - 5_000.0).abs() < 1e-9);
    assert!((hhi(&[7.0]) - 10_000.0).abs() < 1e-9);
    assert_eq!(hhi(&[]), 0.0);
}

fn run(id: &str, agent: &str, model: &str, repo: &str, branch: &str) -> AgentRun {
    AgentRun {
        id: id.into(),
        agent: agent.into(),
        session_id: id.into(),
        model: model.into(),
        cwd: repo.into(),
        repo: Some(repo.into()),
        branch: Some(branch.into()),
        title: id.into(),
        started_at: NOW - 86_400,
        ended_at: NOW - 80_000,
        state: RunState::Finished,
        turns: 1,
        tool_calls: 0,
        errors: 0,
        files_touched: 0,
        models: vec![model.into()],
        tokens: Tokens::default(),
        cost_usd: 0.0,
        source_path: format!("/logs/{id}.jsonl"),
        skipped_lines: 0,
    }
}

fn merged(repo: &str, branch: &str, agent: &str) -> ChangeRequest {
    ChangeRequest {
        updated_at: NOW - 3_600,
        ..support::merged_change(
            repo,
            branch,
            "h",
            Author::Agent {
                agent: agent.into(),
            },
            NOW - 86_400,
        )
    }
}

async fn spend_and_merged_work_per_vendor(db: TestDb) {
    for (vendor, cost) in [("anthropic", 90.0), ("openai", 10.0)] {
        db.store
            .upsert_spend(&SpendRecord {
                vendor: vendor.into(),
                model: format!("{vendor}-m"),
                day: "2026-11-19".into(),
                source: "logs".into(),
                agent: "a".into(),
                repo: "/w/api".into(),
                person: String::new(),
                tokens: Tokens::default(),
                cost_usd: cost,
                unpriced_tokens: 0,
            })
            .await
            .unwrap();
    }
    let runs = [
        run(
            "r1",
            "claude-code",
            "claude-sonnet-4-5",
            "/w/api",
            "claude/a",
        ),
        run("r2", "claude-code", "claude-opus-4-5", "/w/api", "claude/b"),
        run("r3", "codex", "gpt-5", "/w/web", "codex/c"),
        run(
            "r4",
            "claude-code",
            "claude-sonnet-4-5",
            "/w/web",
            "claude/d",
        ),
    ];
    for r in &runs {
        db.store.upsert_agent_run(r).await.unwrap();
    }
    for c in [
        merged("/w/api", "claude/a", "claude-code"),
        merged("/w/api", "claude/b", "claude-code"),
        merged("/w/web", "codex/c", "codex"),
    ] {
        db.store.upsert_change_request(&c).await.unwrap();
    }
    let c = concentration(&db.store, "2026-11-01", 5_000.0)
        .await
        .unwrap();
    // Spend 90/10: 8,100 + 100. Merged 2 anthropic, 1 openai: (200/3)² + (100/3)².
    assert!((c.hhi_spend - 8_200.0).abs() < 1e-6);
    assert!(
        (c.hhi_merged - (40_000.0 + 10_000.0) / 9.0).abs() < 1e-6,
        "{c:?}"
    );
    assert_eq!(c.merged_by_vendor[0].key, "anthropic");
    assert!(c.over);
    let calm = concentration(&db.store, "2026-11-01", 9_000.0)
        .await
        .unwrap();
    assert!(!calm.over);
    // Before the spend: nothing to weigh.
    assert_eq!(
        concentration(&db.store, "2026-11-20", 5_000.0)
            .await
            .unwrap()
            .hhi_spend,
        0.0
    );

    // Anthropic down: /w/api stops entirely, /w/web loses half its runs; codex goes on.
    let d = if_down(&db.store, "anthropic", NOW - 7 * 86_400)
        .await
        .unwrap();
    assert_eq!(d.repos_only, vec!["/w/api"]);
    assert_eq!(d.repos_partly.len(), 1);
    assert_eq!(
        (d.repos_partly[0].key.as_str(), d.repos_partly[0].share),
        ("/w/web", 0.5)
    );
    assert_eq!(d.agents_only, vec!["claude-code"]);

    // The inbox warns (default threshold 5,000).
    let inbox = flightdeck_core::views::inbox_at(&db.store, NOW)
        .await
        .unwrap();
    let warn = inbox
        .items
        .iter()
        .find(|i| i.kind == InboxKind::Concentration)
        .expect("a concentration warning");
    assert!(warn.title.contains("spend HHI 8200"), "{}", warn.title);
    assert!(warn.detail.contains("anthropic 90 %"), "{}", warn.detail);
    db.finish().await;
}
both!(spend_and_merged_work_per_vendor);
