//! Vendor cost reports against the local fakes (`fakehub::billing`: the recorded shapes,
//! paging, auth errors, rate limits, server errors), on SQLite and PostgreSQL: amounts in the
//! vendors' units (Anthropic cents as strings, OpenAI dollars), every page read, late costs
//! replaced rather than added, and the reconciliation against log-derived cost.

mod support;

use std::time::Duration;

use chrono::NaiveDate;
use fakehub::billing::{BillFault, Billing};
use flightdeck_core::model::{SpendRecord, Tokens};
use flightdeck_core::sources::billing::{self, BillingError, CostApi, Vendor};
use support::{both, TestDb};

const NOW: i64 = 1_795_176_000; // 2026-11-20 12:00 UTC

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn api(vendor: Vendor, url: &str, key: &str) -> CostApi {
    CostApi::new(vendor, url, key.into())
        .unwrap()
        .with_backoff(Duration::from_millis(5))
}

async fn cost_reports_are_read_whole_and_reconciled(db: TestDb) {
    let fake = Billing::new("sk-ant-admin-test", "sk-admin-openai");
    // Anthropic: 40 days of one cost each (two pages of at most 31 days), cents as strings.
    let first = day("2026-10-11");
    for i in 0..40 {
        fake.add_anthropic(
            first + chrono::Duration::days(i),
            "claude-sonnet-4-5-20250929",
            "output_tokens",
            "150.00",
        );
    }
    fake.add_anthropic(
        day("2026-11-19"),
        "claude-sonnet-4-5-20250929",
        "uncached_input_tokens",
        "5.469",
    );
    fake.add_openai(
        day("2026-11-19"),
        "gpt-5.2-codex, input",
        Some("proj_A"),
        12.4731,
    );
    fake.add_openai(
        day("2026-11-19"),
        "gpt-5.2-codex, output",
        Some("proj_A"),
        31.08,
    );
    fake.add_openai(day("2026-11-19"), "Web search tool calls", None, 0.35);
    let url = fake.serve(0).await.unwrap();
    // A server error and a short rate limit on the way: retried.
    fake.push_fault(BillFault::Status(502));
    fake.push_fault(BillFault::RateLimited { retry_after: 1 });

    let ant = api(Vendor::Anthropic, &url, "sk-ant-admin-test");
    let s = billing::sync_days(&ant, &db.store, first, day("2026-11-20"), NOW)
        .await
        .unwrap();
    assert_eq!(s.lines, 41);
    assert!(
        (s.billed_usd - (40.0 * 1.5 + 0.05469)).abs() < 1e-9,
        "{s:?}"
    );
    // 2 faults + 2 pages.
    assert_eq!(fake.requests(), 4);

    let oai = api(Vendor::OpenAi, &url, "sk-admin-openai");
    let s = billing::sync(&oai, &db.store, NOW).await.unwrap();
    assert_eq!(
        (s.from.as_str(), s.to.as_str()),
        ("2026-10-21", "2026-11-21")
    );
    assert!((s.billed_usd - (12.4731 + 31.08 + 0.35)).abs() < 1e-9);

    // Log-derived cost of the 19th: anthropic $1.00, openai $40, google (not billed) $3.
    for (vendor, usd) in [("anthropic", 1.0), ("openai", 40.0), ("google", 3.0)] {
        db.store
            .upsert_spend(&SpendRecord {
                vendor: vendor.into(),
                model: "m".into(),
                day: "2026-11-19".into(),
                source: "logs".into(),
                agent: "a".into(),
                repo: String::new(),
                person: String::new(),
                tokens: Tokens::default(),
                cost_usd: usd,
                unpriced_tokens: 0,
            })
            .await
            .unwrap();
    }
    let rows = billing::reconcile(&db.store, "2026-11-19", "2026-11-19")
        .await
        .unwrap();
    let got: Vec<(&str, f64, f64)> = rows
        .iter()
        .map(|r| (r.vendor.as_str(), r.logs_usd, r.billed_usd))
        .collect();
    assert_eq!(got.len(), 2, "only vendors with billing data: {rows:?}");
    assert_eq!((got[0].0, got[0].1), ("anthropic", 1.0));
    assert!((got[0].2 - 1.55469).abs() < 1e-9);
    assert!((rows[0].gap_usd - 0.55469).abs() < 1e-9);
    assert_eq!((got[1].0, got[1].1), ("openai", 40.0));
    assert!((rows[1].gap_usd - (43.9031 - 40.0)).abs() < 1e-9);

    // A cost that landed late is replaced on the next sync, not added.
    fake.add_anthropic(
        day("2026-11-19"),
        "claude-sonnet-4-5-20250929",
        "cache_read_input_tokens",
        "100",
    );
    let s = billing::sync(&ant, &db.store, NOW + 3_600).await.unwrap();
    assert_eq!(s.from, "2026-11-17", "two days before the last synced day");
    let rows = billing::reconcile(&db.store, "2026-11-19", "2026-11-19")
        .await
        .unwrap();
    assert!((rows[0].billed_usd - 2.55469).abs() < 1e-9, "{rows:?}");
    let all = billing::reconcile(&db.store, "2026-10-01", "2026-11-30")
        .await
        .unwrap();
    let anthropic_days = all.iter().filter(|r| r.vendor == "anthropic").count();
    assert_eq!(anthropic_days, 40);
    db.finish().await;
}
both!(cost_reports_are_read_whole_and_reconciled);

#[tokio::test]
async fn refusals_and_long_limits_are_named() {
    let fake = Billing::new("right", "right");
    let url = fake.serve(0).await.unwrap();
    let db = TestDb::sqlite().await;
    let err = billing::sync(&api(Vendor::Anthropic, &url, "wrong"), &db.store, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BillingError::Auth { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("invalid x-api-key"), "{err}");
    assert!(!err.to_string().contains("wrong"), "the key is never shown");
    let err = billing::sync(&api(Vendor::OpenAi, &url, "wrong"), &db.store, NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Incorrect API key"), "{err}");
    fake.push_fault(BillFault::RateLimited { retry_after: 3_600 });
    let err = billing::sync(&api(Vendor::OpenAi, &url, "right"), &db.store, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BillingError::RateLimited {
                retry_after_secs: 3_600,
                ..
            }
        ),
        "{err}"
    );
    for _ in 0..4 {
        fake.push_fault(BillFault::Status(503));
    }
    let err = billing::sync(&api(Vendor::OpenAi, &url, "right"), &db.store, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BillingError::Http { status: 503, .. }),
        "{err}"
    );
    db.finish().await;
}
