//! Budgets on SQLite and PostgreSQL: spend against a team, repo, agent or vendor budget; each
//! of the 50 / 80 / 100 % thresholds fires exactly once a month — however often the check
//! runs, across a restart and from a second process on the same database; the month-end
//! forecast by hand; bad input named.

mod support;

use flightdeck_core::domain::budgets::{self, forecast, BudgetError};
use flightdeck_core::model::{SpendRecord, Tokens};
use flightdeck_core::store::Store;
use flightdeck_core::views::InboxKind;
use support::{both, TestDb};

fn prices() -> flightdeck_core::model::pricing::PriceTable {
    flightdeck_core::model::pricing::PriceTable::builtin()
}

/// 2026-11-20 12:00 UTC: day 20 of a 30-day month.
const NOW: i64 = 1_795_176_000;

fn spend(day: &str, vendor: &str, repo: &str, cost: f64) -> SpendRecord {
    SpendRecord {
        vendor: vendor.into(),
        model: format!("{vendor}-model"),
        day: day.into(),
        source: format!("test-{day}-{vendor}-{repo}"),
        agent: "claude-code".into(),
        repo: repo.into(),
        person: String::new(),
        tokens: Tokens::default(),
        cost_usd: cost,
        unpriced_tokens: 0,
    }
}

async fn thresholds_fire_once_a_month_across_restarts(db: TestDb) {
    // 55 spent this month (30 of it on /w/api), 500 last month (not this month's).
    for r in [
        spend("2026-11-02", "anthropic", "/w/api", 30.0),
        spend("2026-11-10", "openai", "/w/web", 25.0),
        spend("2026-10-30", "anthropic", "/w/api", 500.0),
    ] {
        db.store.upsert_spend(&r).await.unwrap();
    }
    budgets::set(&db.store, "team", None, 100.0, &prices(), NOW)
        .await
        .unwrap();
    budgets::set(&db.store, "repo", Some("/w/api"), 40.0, &prices(), NOW)
        .await
        .unwrap();
    let fired = budgets::check(&db.store, NOW).await.unwrap();
    let got: Vec<(String, i64)> = fired
        .iter()
        .map(|a| (a.budget_id.clone(), a.threshold))
        .collect();
    assert_eq!(
        got,
        vec![("repo:/w/api".to_string(), 50), ("team".to_string(), 50)]
    );
    assert!(budgets::check(&db.store, NOW + 60)
        .await
        .unwrap()
        .is_empty());

    // A restart, and another process on the same database: nothing fires twice.
    let other = Store::open(&db.url).await.unwrap();
    assert!(budgets::check(&other, NOW + 120).await.unwrap().is_empty());

    // More spend: the repo passes 80 and 100 at once, the team 80.
    db.store
        .upsert_spend(&spend("2026-11-19", "anthropic", "/w/api", 30.0))
        .await
        .unwrap();
    let fired = budgets::check(&other, NOW + 180).await.unwrap();
    let got: Vec<(String, i64)> = fired
        .iter()
        .map(|a| (a.budget_id.clone(), a.threshold))
        .collect();
    assert_eq!(
        got,
        vec![
            ("repo:/w/api".to_string(), 80),
            ("repo:/w/api".to_string(), 100),
            ("team".to_string(), 80)
        ]
    );
    assert!(budgets::check(&db.store, NOW + 240)
        .await
        .unwrap()
        .is_empty());
    other.close().await;

    let status = budgets::status(&db.store, NOW).await.unwrap();
    let team = status.iter().find(|s| s.budget.id == "team").unwrap();
    assert!((team.spent_usd - 85.0).abs() < 1e-9);
    assert_eq!(team.fired, vec![50, 80]);
    assert_eq!(team.month, "2026-11");
    // 85 over 20 days, 10 to go: 85 + 4.25 × 10 expected.
    assert!(
        (team.forecast.expected_usd - 127.5).abs() < 1e-9,
        "{team:?}"
    );
    assert!(team.forecast.low_usd >= 85.0 && team.forecast.high_usd > 127.5);

    // The lead hears of it in the inbox.
    let inbox = flightdeck_core::views::inbox_at(&db.store, NOW)
        .await
        .unwrap();
    let budget_items: Vec<&str> = inbox
        .items
        .iter()
        .filter(|i| i.kind == InboxKind::Budget)
        .map(|i| i.title.as_str())
        .collect();
    assert_eq!(budget_items.len(), 5, "{budget_items:?}");
    db.finish().await;
}
both!(thresholds_fire_once_a_month_across_restarts);

async fn bad_budgets_are_refused_with_the_reason(db: TestDb) {
    let err = |r: Result<_, BudgetError>| r.unwrap_err().to_string();
    assert!(
        err(budgets::set(&db.store, "galaxy", None, 1.0, &prices(), NOW).await)
            .contains("team, repo, agent, vendor")
    );
    assert!(
        err(budgets::set(&db.store, "repo", None, 1.0, &prices(), NOW).await)
            .contains("needs a target")
    );
    assert!(
        err(budgets::set(&db.store, "team", Some("x"), 1.0, &prices(), NOW).await)
            .contains("no target")
    );
    assert!(
        err(budgets::set(&db.store, "vendor", Some("openai"), -5.0, &prices(), NOW).await)
            .contains("not a monthly amount")
    );
    // Setting again replaces; removing removes.
    budgets::set(&db.store, "vendor", Some("openai"), 10.0, &prices(), NOW)
        .await
        .unwrap();
    budgets::set(&db.store, "vendor", Some("openai"), 20.0, &prices(), NOW)
        .await
        .unwrap();
    let all = budgets::budgets(&db.store).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].monthly_usd, 20.0);
    assert!(budgets::remove(&db.store, "vendor:openai").await.unwrap());
    assert!(!budgets::remove(&db.store, "vendor:openai").await.unwrap());
    db.finish().await;
}
both!(bad_budgets_are_refused_with_the_reason);

/// A target is what the user sees: a repo by name (or owner/name, identity, clone path), a
/// vendor or agent in any case. It is stored as the key spend is recorded under, so it
/// matches; a target that names nothing is refused with what exists.
async fn budget_targets_are_checked_against_what_exists(db: TestDb) {
    let repo = |id: &str, name: &str, path: &str| flightdeck_core::model::Repo {
        id: id.into(),
        path: Some(path.into()),
        name: name.into(),
        default_branch: "main".into(),
        remote_url: None,
        last_scanned_at: None,
    };
    db.store
        .upsert_repo(&repo("github.com/acme/acme-api", "acme-api", "/w/acme-api"))
        .await
        .unwrap();
    db.store
        .upsert_repo(&repo("github.com/acme/web", "web", "/w/web"))
        .await
        .unwrap();
    db.store
        .upsert_repo(&repo("gitlab.com/other/web", "web", "/w/other-web"))
        .await
        .unwrap();
    db.store
        .upsert_spend(&spend(
            "2026-11-02",
            "anthropic",
            "github.com/acme/acme-api",
            30.0,
        ))
        .await
        .unwrap();

    let set = |scope: &'static str, target: &'static str| {
        let store = db.store.clone();
        async move { budgets::set(&store, scope, Some(target), 10.0, &prices(), NOW).await }
    };
    for shown in [
        "acme-api",
        "acme/acme-api",
        "github.com/acme/acme-api",
        "/w/acme-api",
    ] {
        let b = set("repo", shown).await.unwrap();
        assert_eq!(b.id, "repo:github.com/acme/acme-api", "{shown}");
    }
    // The budget matches the spend recorded under the repo's identity.
    let fired = budgets::check(&db.store, NOW).await.unwrap();
    assert!(
        fired
            .iter()
            .any(|a| a.budget_id == "repo:github.com/acme/acme-api"),
        "{fired:?}"
    );
    let err = set("repo", "nosuchrepo").await.unwrap_err().to_string();
    assert!(
        err.contains("no repo `nosuchrepo`") && err.contains("acme-api"),
        "{err}"
    );
    let err = set("repo", "web").await.unwrap_err().to_string();
    assert!(
        err.contains("ambiguous") && err.contains("gitlab.com/other/web"),
        "{err}"
    );
    assert_eq!(
        set("repo", "other/web").await.unwrap().target,
        "gitlab.com/other/web"
    );

    assert_eq!(
        set("vendor", "Anthropic").await.unwrap().id,
        "vendor:anthropic"
    );
    assert_eq!(set("vendor", "OPENAI").await.unwrap().target, "openai");
    let err = set("vendor", "acme-ai").await.unwrap_err().to_string();
    assert!(
        err.contains("no vendor `acme-ai`") && err.contains("anthropic"),
        "{err}"
    );
    assert_eq!(
        set("agent", "Claude-Code").await.unwrap().target,
        "claude-code"
    );
    assert!(set("agent", "nosuchagent").await.is_err());
    // An agent Flightdeck reads, before it has spent anything.
    assert_eq!(set("agent", "Codex").await.unwrap().target, "codex");
    db.finish().await;
}
both!(budget_targets_are_checked_against_what_exists);

#[test]
fn the_forecast_by_hand() {
    // Days of 1 and 3 in a 4-day month: spent 4, mean 2, sample variance 2; two days left:
    // expected 4 + 2×2 = 8, ± 1.2816 × √(2×2).
    let f = forecast(&[1.0, 3.0], 4);
    assert!((f.expected_usd - 8.0).abs() < 1e-9);
    assert!((f.high_usd - (8.0 + 1.2816 * 2.0)).abs() < 1e-9);
    assert!((f.low_usd - (8.0 - 1.2816 * 2.0)).abs() < 1e-9);
    // Never below what is spent; no days yet: nothing to say but 0.
    let f = forecast(&[10.0, 0.0, 0.0], 30);
    assert!(f.low_usd >= 10.0);
    assert_eq!(forecast(&[], 30).expected_usd, 0.0);
}
