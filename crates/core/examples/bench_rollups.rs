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

const MODELS: [&str; 12] = [
    "claude-sonnet-4-5",
    "claude-opus-4-7",
    "claude-haiku-4-5",
    "claude-sonnet-4-6",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5.2-codex",
    "gpt-5.3-codex",
    "o3",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "claude-opus-4-5",
];
const AGENTS: [&str; 6] = [
    "claude-code",
    "codex",
    "gemini",
    "claude-code",
    "codex",
    "aider",
];
const SESSION: u64 = 200;

fn day(i: u64) -> String {
    let d = chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap_or_default()
        + chrono::Duration::days((i % 365) as i64);
    d.format("%Y-%m-%d").to_string()
}

async fn fill(store: &Store, records: u64) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let sessions = records.div_ceil(SESSION);
    let mut tx = store.begin().await?;
    let mut rows = Vec::with_capacity(400);
    for s in 0..sessions {
        let agent = AGENTS[(s % 6) as usize];
        let d = day(s * 7 % 365);
        let ts = chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")?
            .and_hms_opt(10, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp());
        sqlx::query(
            "INSERT INTO agent_runs (id, agent, session_id, model, cwd, repo, branch, title,
               started_at, ended_at, state, cost_usd, source_path)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 't', $8, $9, 'finished', 0, $10)",
        )
        .bind(format!("{agent}:s{s}"))
        .bind(agent)
        .bind(format!("s{s}"))
        .bind(MODELS[(s % 12) as usize])
        .bind(format!("/w/repo{}", s % 40))
        .bind(format!("/w/repo{}", s % 40))
        .bind(format!("{agent}/task-{s}"))
        .bind(ts)
        .bind(ts + 3_600)
        .bind(format!("/logs/s{s}.jsonl"))
        .execute(&mut *tx)
        .await?;
        for r in 0..SESSION.min(records - s * SESSION) {
            let model = MODELS[((s + r / 50) % 12) as usize];
            let (i, o, cw, cr) = (100 + r % 900, 50 + r % 400, r % 3 * 1000, 20_000 + r * 10);
            let cost = (i as f64 * 3e-6)
                + (o as f64 * 1.5e-5)
                + (cw as f64 * 3.75e-6)
                + (cr as f64 * 3e-7);
            rows.push(format!(
                "('{agent}', 'k{s}_{r}', 'm{s}_{r}', 0, 's{s}', '/logs/s{s}.jsonl', {r}, {ts}, '{d}', \
                 '{model}', {i}, {o}, {cw}, 0, {cr}, 0, {}, {cost}, NULL, 1, 1)",
                i + o + cw + cr
            ));
            if rows.len() == 400 {
                flush(&mut tx, &mut rows).await?;
            }
        }
        if s % 2_000 == 1_999 {
            flush(&mut tx, &mut rows).await?;
            tx.commit().await?;
            tx = store.begin().await?;
            eprint!("\r  {} of {records} records", (s + 1) * SESSION);
        }
    }
    flush(&mut tx, &mut rows).await?;
    tx.commit().await?;
    eprintln!(
        "\r  {records} records in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn flush(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    // Generated numbers and names only: nothing here comes from input.
    let sql = format!(
        "INSERT INTO usage_entries (agent, entry_key, message_id, sidechain, session_id, file,
           line_no, at, day, model, input_tokens, output_tokens, cache_write_tokens,
           cache_write_1h_tokens, cache_read_tokens, reasoning_tokens, total_tokens, cost_usd,
           logged_cost_usd, canonical, priced) VALUES {}",
        rows.join(", ")
    );
    sqlx::query(&sql).execute(&mut **tx).await?;
    rows.clear();
    Ok(())
}

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
        fill(&store, records).await?;
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
    for r in 0..SESSION {
        rows.push(format!(
            "('claude-code', '{new}{r}', '{new}{r}', 0, '{new}', '/logs/{new}.jsonl', {r}, {now}, \
             '2026-11-20', 'claude-sonnet-4-5', 100, 50, 0, 0, 1000, 0, 1150, 0.001, NULL, 1, 1)"
        ));
    }
    flush(&mut tx, &mut rows).await?;
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
