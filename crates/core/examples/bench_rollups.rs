//! The spend rollup at scale: `bench_rollups DATABASE_URL [RECORDS]` fills a fresh store with
//! RECORDS usage records (default 10 million: a year, 12 models of three vendors, 6 agents, 40
//! repos, sessions of 200 requests), builds the per-day rollup once, then times what the Spend
//! view, reports and budgets ask of it (best and median of 7), against the same figures
//! computed from the raw records, and an incremental ingest of one more session. Prints ms.

use std::time::Instant;

use flightdeck_core::metrics::reports::{self, SpendBy};
use flightdeck_core::model::pricing::PriceTable;
use flightdeck_core::store::Store;
use flightdeck_core::{domain::budgets, metrics::concentration, views};

#[path = "support/fill.rs"]
mod fill;

/// (best, median) ms of 7 runs of `f`.
async fn time<F, Fut, T>(mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut ms = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        std::hint::black_box(f().await);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    (ms[0], ms[3])
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: bench_rollups DATABASE_URL [RECORDS]")?;
    let records: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let store = Store::open(&url).await?;
    let have: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM usage_entries")
        .fetch_one(store.pool())
        .await?;
    if have == 0 {
        eprintln!("filling {url} …");
        let repos: Vec<String> = (0..40).map(|r| format!("/w/repo{r}")).collect();
        fill::fill_usage(&store, &repos, records).await?;
    }
    let prices = PriceTable::builtin();
    let t = Instant::now();
    store.rebuild_log_spend(&prices).await?;
    let rollup_rows: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM spend_records")
        .fetch_one(store.pool())
        .await?;
    println!(
        "records {records}: full rollup build {:.1} s → {rollup_rows} rollup rows",
        t.elapsed().as_secs_f64()
    );
    budgets::set(&store, "team", None, 50_000.0, &prices, 0).await?;
    budgets::set(&store, "vendor", Some("anthropic"), 30_000.0, &prices, 0).await?;
    budgets::set(&store, "repo", Some("/w/repo7"), 2_000.0, &prices, 0).await?;
    let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp());

    println!(
        "{:<44} {:>10} {:>10}",
        "query (rollup)", "best ms", "median ms"
    );
    let row = |name: &str, (best, median): (f64, f64)| {
        println!("{name:<44} {best:>10.1} {median:>10.1}");
    };
    for (name, by) in [
        ("report spend --by vendor", SpendBy::Vendor),
        ("report spend --by model", SpendBy::Model),
        ("report spend --by agent", SpendBy::Agent),
        ("report spend --by repo", SpendBy::Repo),
        ("report spend --by day", SpendBy::Day),
        ("report spend --by week", SpendBy::Week),
        ("report spend --by month", SpendBy::Month),
    ] {
        row(name, time(|| reports::spend(&store, by, None, None)).await);
    }
    row(
        "report spend --by model, one month",
        time(|| {
            reports::spend(
                &store,
                SpendBy::Model,
                Some("2026-11-01"),
                Some("2026-11-30"),
            )
        })
        .await,
    );
    row(
        "budget status (3 budgets)",
        time(|| budgets::status(&store, now)).await,
    );
    row(
        "concentration (30 days)",
        time(|| concentration::concentration(&store, "2026-10-21", 5_000.0)).await,
    );
    row(
        "whole Spend view (/api/spend)",
        time(|| views::spend(&store)).await,
    );

    println!(
        "{:<44} {:>10} {:>10}",
        "the same from raw records (no rollup)", "best ms", "median ms"
    );
    let raw = |group: &'static str| {
        let sql = format!(
            "SELECT {group} AS k, CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS c
             FROM usage_entries WHERE canonical = 1 GROUP BY {group}"
        );
        let store = store.clone();
        move || {
            let (store, sql) = (store.clone(), sql.clone());
            async move {
                sqlx::query(&sql)
                    .fetch_all(store.pool())
                    .await
                    .map(|r| r.len())
            }
        }
    };
    row("raw: cost by model", time(raw("model")).await);
    row("raw: cost by day", time(raw("day")).await);

    // One more session of today, as an incremental ingest adds it (a fresh name per run, so
    // the bench can run again on the same store).
    let new = format!("new-{}", std::process::id());
    let mut tx = store.begin().await?;
    let mut rows = Vec::new();
    for r in 0..fill::SESSION {
        rows.push(format!(
            "('claude-code', '{new}{r}', '{new}{r}', 0, '{new}', '/logs/{new}.jsonl', {r}, {now}, \
             '2026-11-20', 'claude-sonnet-4-5', 100, 50, 0, 0, 1000, 0, 1150, 0.001, NULL, 1, 1)"
        ));
    }
    fill::flush(&mut tx, &mut rows).await?;
    tx.commit().await?;
    let t = Instant::now();
    let touched = vec![("claude-code".to_string(), new)];
    let days = store.days_of_sessions(&touched).await?;
    store.rebuild_log_spend_days(&prices, Some(&days)).await?;
    println!(
        "incremental rollup after one new session: {:.1} ms ({} day)",
        t.elapsed().as_secs_f64() * 1e3,
        days.len()
    );
    store.close().await;
    Ok(())
}
