//! Costs by hand: every price dimension — input, output, 5-minute and 1-hour cache writes,
//! cache reads, the long-context tier, a price change in the middle of a month, a vendor
//! discount — and an unknown model, which is unpriced (kept apart), never free. Through the
//! table alone and through a real ingest of Claude Code logs, on SQLite and PostgreSQL; a
//! change of the user's prices re-prices what is stored.

mod support;

use std::collections::BTreeMap;

use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::model::pricing::{ModelOverride, ModelPrice, PriceOverrides, PriceTable};
use flightdeck_core::model::Tokens;
use support::{both, TestDb};

const NOW: i64 = 1_795_000_000;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Sonnet 4.5 cheaper from 15 November; 10 % off OpenAI.
fn overrides() -> PriceOverrides {
    let mut models = BTreeMap::new();
    models.insert(
        "claude-sonnet-4-5".to_string(),
        ModelOverride {
            vendor: None,
            from: Some("2026-11-15".into()),
            price: ModelPrice {
                input: 2e-6,
                output: 1e-5,
                cache_write: 2.5e-6,
                cache_read: 2e-7,
                cache_write_1h: Some(4e-6),
                fast_multiplier: None,
                tier: None,
            },
        },
    );
    let mut discounts = BTreeMap::new();
    discounts.insert("openai".to_string(), 0.1);
    PriceOverrides { models, discounts }
}

/// 1,000 input, 2,000 output, 4,000 cache writes (1,000 of them for one hour), 10,000 reads.
const MIXED: Tokens = Tokens {
    input: 1_000,
    output: 2_000,
    cache_write: 4_000,
    cache_read: 10_000,
    reasoning: 0,
};

#[test]
fn every_price_dimension_by_hand() {
    let t = PriceTable::with_overrides(&overrides());
    // List prices before the change: 1000×3e-6 + 2000×1.5e-5 + 3000×3.75e-6 (5-minute writes)
    // + 1000×6e-6 (1-hour writes, 2× input) + 10000×3e-7.
    let before = 0.003 + 0.03 + 0.01125 + 0.006 + 0.003;
    let got = t
        .cost_on("claude-sonnet-4-5", &MIXED, 1_000, "2026-11-14")
        .unwrap();
    assert!(close(got, before), "{got} != {before}");
    // From the 15th, the new prices (the 1-hour write at its own 4e-6).
    let after = 0.002 + 0.02 + 0.0075 + 0.004 + 0.002;
    let got = t
        .cost_on("claude-sonnet-4-5-20250929", &MIXED, 1_000, "2026-11-15")
        .unwrap();
    assert!(close(got, after), "{got} != {after}");
    // Long context: the input past 200k tokens at the tier's 6e-6.
    let long = Tokens {
        input: 250_000,
        ..Default::default()
    };
    let got = t
        .cost_on("claude-sonnet-4", &long, 0, "2026-11-20")
        .unwrap();
    assert!(close(got, 200_000.0 * 3e-6 + 50_000.0 * 6e-6), "{got}");
    // 10 % off OpenAI's list: 1M in at 1.25e-6, 1M out at 1e-5.
    let million = Tokens {
        input: 1_000_000,
        output: 1_000_000,
        ..Default::default()
    };
    let got = t.cost_on("gpt-5", &million, 0, "2026-11-20").unwrap();
    assert!(close(got, 11.25 * 0.9), "{got}");
    // Unknown: no price, not a price of zero.
    assert_eq!(t.cost_on("llama-3-70b", &MIXED, 0, "2026-11-20"), None);
    // The built-in table alone knows no change: the 20th at list prices.
    let builtin = PriceTable::builtin();
    let got = builtin
        .cost_on("claude-sonnet-4-5", &MIXED, 1_000, "2026-11-20")
        .unwrap();
    assert!(close(got, before));
    assert_ne!(builtin.fingerprint(), t.fingerprint());
}

#[test]
fn a_model_priced_from_a_day_is_unpriced_before_it() {
    let mut o = PriceOverrides::default();
    o.models.insert(
        "acme-coder-1".into(),
        ModelOverride {
            vendor: Some("acme".into()),
            from: Some("2026-11-10".into()),
            price: ModelPrice {
                input: 1e-6,
                output: 2e-6,
                cache_write: 0.0,
                cache_read: 0.0,
                cache_write_1h: None,
                fast_multiplier: None,
                tier: None,
            },
        },
    );
    let t = PriceTable::with_overrides(&o);
    let tokens = Tokens {
        input: 1_000,
        output: 1_000,
        ..Default::default()
    };
    assert_eq!(t.cost_on("acme-coder-1", &tokens, 0, "2026-11-09"), None);
    assert!(close(
        t.cost_on("acme-coder-1", &tokens, 0, "2026-11-10").unwrap(),
        0.003
    ));
    assert_eq!(
        flightdeck_core::model::pricing::vendor_of(&t, "acme-coder-1"),
        "acme"
    );
}

#[test]
fn bad_user_prices_name_the_key() {
    let path = std::path::Path::new("/etc/flightdeck/config.toml");
    let parse = |text: &str| {
        flightdeck_core::config::RawConfig::parse(text, path)
            .and_then(|raw| raw.prices.validate(path))
            .unwrap_err()
            .to_string()
    };
    let e = parse("[prices.discounts]\nanthropic = 15\n");
    assert!(
        e.contains("prices.discounts.anthropic") && e.contains("0.1 is 10 %"),
        "{e}"
    );
    let e = parse(
        "[prices.models.\"x\"]\ninput = -1.0\noutput = 0.0\ncache_write = 0.0\ncache_read = 0.0\n",
    );
    assert!(e.contains("prices.models.\"x\".input"), "{e}");
    let e = parse(
        "[prices.models.\"x\"]\ninput = 1e-6\noutput = 0.0\ncache_write = 0.0\ncache_read = 0.0\nfrom = \"Nov 3\"\n",
    );
    assert!(e.contains(".from") && e.contains("YYYY-MM-DD"), "{e}");
    let e = parse("[prices.models.\"x\"]\ninput = 1e-6\n");
    assert!(e.contains("output"), "a missing rate is named: {e}");
}

/// One assistant message of Claude Code on `day` (UTC) with `MIXED` usage.
fn line(i: usize, day: &str, model: &str) -> String {
    serde_json::json!({
        "type": "assistant", "sessionId": "s1", "cwd": "/w", "gitBranch": "claude/x",
        "timestamp": format!("{day}T10:00:{i:02}.000Z"),
        "requestId": format!("req_{i}"),
        "message": {"id": format!("msg_{i}"), "model": model, "role": "assistant",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 1000, "output_tokens": 2000,
                      "cache_creation_input_tokens": 4000, "cache_read_input_tokens": 10000,
                      "cache_creation": {"ephemeral_5m_input_tokens": 3000,
                                         "ephemeral_1h_input_tokens": 1000}}}
    })
    .to_string()
}

async fn ingested_costs_follow_the_day_and_the_users_prices(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("projects/-w");
    std::fs::create_dir_all(&project).unwrap();
    let lines = [
        line(1, "2026-11-14", "claude-sonnet-4-5"),
        line(2, "2026-11-16", "claude-sonnet-4-5"),
        line(3, "2026-11-16", "mystery-model-9"),
    ];
    std::fs::write(project.join("s1.jsonl"), lines.join("\n") + "\n").unwrap();
    let mut sources = Sources {
        claude_dirs: vec![dir.path().to_path_buf()],
        prices: overrides(),
        person: "alice".into(),
        ..Default::default()
    };
    ingest::run(&db.store, &sources, None, NOW).await.unwrap();
    let spend = db.store.spend_records().await.unwrap();
    // Who launched it: the user of the machine that read the logs.
    assert!(spend.iter().all(|r| r.person == "alice"), "{spend:?}");
    let by_person = flightdeck_core::metrics::reports::spend(
        &db.store,
        flightdeck_core::metrics::reports::SpendBy::Person,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(by_person.rows.len(), 1);
    assert_eq!(by_person.rows[0].key, "alice");
    assert!(close(by_person.rows[0].cost_usd, 0.05325 + 0.0355));
    let row = |day: &str, model: &str| {
        spend
            .iter()
            .find(|r| r.day == day && r.model == model)
            .unwrap_or_else(|| panic!("no {day} {model} in {spend:?}"))
            .clone()
    };
    let (before, after) = (0.05325, 0.0355);
    assert!(close(
        row("2026-11-14", "claude-sonnet-4-5").cost_usd,
        before
    ));
    assert!(close(
        row("2026-11-16", "claude-sonnet-4-5").cost_usd,
        after
    ));
    let mystery = row("2026-11-16", "mystery-model-9");
    assert_eq!(mystery.unpriced_tokens, 17_000, "unpriced, not free");
    assert_eq!(row("2026-11-14", "claude-sonnet-4-5").unpriced_tokens, 0);
    let run_cost = db.store.agent_runs().await.unwrap()[0].cost_usd;
    assert!(close(run_cost, before + after), "{run_cost}");

    // The user's prices change (no sonnet override, 20 % off Anthropic): stored usage is
    // priced again, the run's cost with it.
    sources.prices.models.clear();
    sources.prices.discounts.insert("anthropic".into(), 0.2);
    ingest::run(&db.store, &sources, None, NOW + 60)
        .await
        .unwrap();
    let spend = db.store.spend_records().await.unwrap();
    let cost = |day: &str| {
        spend
            .iter()
            .find(|r| r.day == day && r.model == "claude-sonnet-4-5")
            .unwrap()
            .cost_usd
    };
    assert!(
        close(cost("2026-11-14"), before * 0.8),
        "{}",
        cost("2026-11-14")
    );
    assert!(close(cost("2026-11-16"), before * 0.8));
    let run_cost = db.store.agent_runs().await.unwrap()[0].cost_usd;
    assert!(close(run_cost, 2.0 * before * 0.8), "{run_cost}");
    db.finish().await;
}
both!(ingested_costs_follow_the_day_and_the_users_prices);

/// The rollup is rebuilt for the days an ingest changed only; after a log is cut short (its
/// usage on one day gone), it still equals a rebuild of every day.
async fn incremental_rollup_equals_a_full_rebuild(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("projects/-w");
    std::fs::create_dir_all(&project).unwrap();
    let a = project.join("s1.jsonl");
    let b = project.join("s2.jsonl");
    std::fs::write(
        &a,
        [
            line(1, "2026-11-14", "claude-sonnet-4-5"),
            line(2, "2026-11-15", "claude-sonnet-4-5"),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        line(3, "2026-11-15", "gpt-5").replace("\"s1\"", "\"s2\"") + "\n",
    )
    .unwrap();
    let sources = Sources {
        claude_dirs: vec![dir.path().to_path_buf()],
        ..Default::default()
    };
    ingest::run(&db.store, &sources, None, NOW).await.unwrap();
    assert_eq!(db.store.spend_records().await.unwrap().len(), 3);
    // s1 is rewritten with only its first day: the 15th loses its Sonnet usage.
    std::fs::write(&a, line(1, "2026-11-14", "claude-sonnet-4-5") + "\n").unwrap();
    ingest::run(&db.store, &sources, None, NOW + 60)
        .await
        .unwrap();
    let incremental = db.store.spend_records().await.unwrap();
    db.store
        .rebuild_log_spend(&PriceTable::builtin())
        .await
        .unwrap();
    let full = db.store.spend_records().await.unwrap();
    assert_eq!(incremental, full);
    let days: Vec<(&str, &str)> = full
        .iter()
        .map(|r| (r.day.as_str(), r.model.as_str()))
        .collect();
    assert_eq!(
        days,
        vec![("2026-11-14", "claude-sonnet-4-5"), ("2026-11-15", "gpt-5")]
    );
    db.finish().await;
}
both!(incremental_rollup_equals_a_full_rebuild);
