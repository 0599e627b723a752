//! Work items on SQLite and PostgreSQL: added, handed from a person to an agent, moved through
//! their states and linked to what works on them — each change of hands in the signed audit
//! log; bad assignees, agents that are not configured and unknown states refused by name; agent
//! configs checked.

mod support;

use std::collections::BTreeMap;

use flightdeck_core::domain::work::{self, AgentConfig, WorkError};
use flightdeck_core::model::audit::{self, AuditKey};
use flightdeck_core::model::{WorkLinkKind, WorkState};
use support::{both, TestDb};

const NOW: i64 = 1_795_176_000;

fn agents() -> BTreeMap<String, AgentConfig> {
    let mut a = BTreeMap::new();
    a.insert(
        "claude".to_string(),
        AgentConfig {
            vendor: Some("anthropic".into()),
            model: Some("claude-sonnet-4-5".into()),
            command: vec!["claude".into(), "-p".into(), "{prompt}".into()],
            concurrency: Some(2),
            env: Vec::new(),
        },
    );
    a
}

async fn work_changes_hands_and_is_audited(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
    let agents = agents();
    let by = |now| work::Actor {
        key: &key,
        name: "alice",
        now,
    };
    let bob = work::parse_assignee("person:bob", &agents).unwrap();
    let w = work::add(
        &db.store,
        &key,
        "alice",
        "Fix the flaky date test",
        "It fails on the 31st.",
        Some("/w/web"),
        Some(bob),
        NOW,
    )
    .await
    .unwrap();
    assert!(w.id.starts_with("W-") && w.id.len() == 10, "{}", w.id);
    assert_eq!(
        (w.state.as_str(), w.assignee.as_deref()),
        ("todo", Some("person:bob"))
    );

    let claude = work::parse_assignee("agent:claude", &agents).unwrap();
    work::assign(&db.store, &by(NOW + 1), &w.id, claude)
        .await
        .unwrap();
    work::set_state(&db.store, &by(NOW + 2), &w.id, "in_progress")
        .await
        .unwrap();
    work::link(
        &db.store,
        &w.id,
        WorkLinkKind::Branch,
        "claude/flaky-date",
        NOW + 3,
    )
    .await
    .unwrap();
    work::link(
        &db.store,
        &w.id,
        WorkLinkKind::Branch,
        "claude/flaky-date",
        NOW + 4,
    )
    .await
    .unwrap();
    let all = db.store.work_items().await.unwrap();
    assert_eq!(all.len(), 1);
    let got = &all[0];
    assert_eq!(got.assignee.as_deref(), Some("agent:claude"));
    assert_eq!(got.state, WorkState::InProgress);
    assert_eq!(got.body, "It fails on the 31st.");
    assert_eq!(got.links.len(), 1, "a link is kept once");
    assert_eq!((got.created_at, got.updated_at), (NOW, NOW + 4));

    let entries = db.store.audit_entries().await.unwrap();
    let said: Vec<(&str, &str)> = entries
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        said,
        vec![
            ("work add", "Fix the flaky date test → person:bob"),
            ("work assign", "person:bob → agent:claude"),
            ("work state", "todo → in_progress"),
        ]
    );
    assert!(audit::verify(&entries, &[key.public_hex()], &[]).ok());

    // Refusals name what is wrong.
    let e = work::parse_assignee("agent:gpt", &agents).unwrap_err();
    assert!(
        matches!(e, WorkError::UnknownAgent(..)) && e.to_string().contains("configured: claude"),
        "{e}"
    );
    assert!(work::parse_assignee("bob", &agents)
        .unwrap_err()
        .to_string()
        .contains("person:NAME"));
    let e = work::set_state(&db.store, &by(NOW), &w.id, "finished")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("in_review"), "{e}");
    let e = work::assign(&db.store, &by(NOW), "W-nope", "person:x".into())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no work item `W-nope`"), "{e}");
    let e = work::add(&db.store, &key, "alice", "  ", "", None, None, NOW)
        .await
        .unwrap_err();
    assert!(matches!(e, WorkError::NoTitle));
    db.finish().await;
}
both!(work_changes_hands_and_is_audited);

#[test]
fn agent_configs_are_checked_by_key() {
    let path = std::path::Path::new("/c/config.toml");
    let parse = |text: &str| {
        let raw = flightdeck_core::config::RawConfig::parse(text, path).unwrap();
        work::validate_agents(&raw.agents, path)
    };
    parse(
        "[agents.claude]\ncommand = [\"claude\", \"-p\", \"{prompt}\", \"--model\", \"{model}\"]\n",
    )
    .unwrap();
    let e = parse("[agents.claude]\ncommand = []\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("agents.claude.command") && e.contains("needs the program"),
        "{e}"
    );
    let e = parse("[agents.claude]\ncommand = [\"claude\", \"{task}\"]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown placeholder {task}"), "{e}");
    let e = parse("[agents.claude]\ncommand = [\"claude\"]\nconcurrency = 0\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("agents.claude.concurrency"), "{e}");
    let e = flightdeck_core::config::RawConfig::parse("[agents.claude]\ncmd = [\"x\"]\n", path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cmd"), "an unknown key is named: {e}");
}

/// The demo's agent branches, read by the real ingest: the task each was started for becomes a
/// work item once, assigned to its agent, linked to its runs, branch and change, in its
/// change's state; a branch some item already claims is left to it.
async fn agent_runs_become_work_items_once(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let ws = flightdeck_core::demo::build(&dir.path().join("demo"), now).unwrap();
    flightdeck_core::domain::ingest::run(&db.store, &ws.sources(), None, now)
        .await
        .unwrap();
    let adopted: Vec<_> = db
        .store
        .work_items()
        .await
        .unwrap()
        .into_iter()
        .filter(|w| w.source == flightdeck_core::model::WorkSource::Run)
        .collect();
    assert!(adopted.len() >= 3, "{adopted:?}");
    let invoice = adopted
        .iter()
        .find(|w| {
            w.links
                .iter()
                .any(|l| l.kind == WorkLinkKind::Branch && l.target == "claude/invoice-rounding")
        })
        .expect("the invoice branch's task");
    assert_eq!(invoice.assignee.as_deref(), Some("agent:claude-code"));
    assert_eq!(invoice.state, WorkState::InReview, "its change is open");
    assert!(invoice.links.iter().any(|l| l.kind == WorkLinkKind::Run));
    assert!(invoice
        .links
        .iter()
        .any(|l| l.kind == WorkLinkKind::Change && l.target.ends_with(":claude/invoice-rounding")));
    let runs = db.store.agent_runs().await.unwrap();
    let first = runs
        .iter()
        .filter(|r| r.branch.as_deref() == Some("claude/invoice-rounding"))
        .min_by_key(|r| r.started_at)
        .unwrap();
    assert_eq!(
        invoice.title, first.title,
        "titled by the task it was started for"
    );
    assert!(adopted.iter().all(|w| w
        .assignee
        .as_deref()
        .is_some_and(|a| a.starts_with("agent:"))
        && !w
            .links
            .iter()
            .any(|l| l.kind == WorkLinkKind::Branch && l.target == "main")));

    // Nothing new the second time; a branch claimed by another item is not adopted again.
    assert_eq!(work::adopt_runs(&db.store).await.unwrap(), 0);
    db.store.delete_work_item(&invoice.id).await.unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
    let mine = work::add(&db.store, &key, "alice", "Rounding", "", None, None, now)
        .await
        .unwrap();
    work::link(
        &db.store,
        &mine.id,
        WorkLinkKind::Branch,
        "claude/invoice-rounding",
        now,
    )
    .await
    .unwrap();
    assert_eq!(work::adopt_runs(&db.store).await.unwrap(), 0);
    db.finish().await;
}
both!(agent_runs_become_work_items_once);
