//! DORA and cycle time at scale: `bench_dora DATABASE_URL [COMMITS] [DEPLOYS]` fills a fresh
//! store with COMMITS commits (default 1 million) over two years in 40 repos, DEPLOYS
//! production deploys (default 100,000; 8 % failed, 3 % shipping a revert) each shipping the
//! commits made since the one before, and one merged change per deploy (80 % reviewed). It
//! measures them once (as recording does), then times `dora::dora` and `cycle::cycle_time`
//! for the last 90 days and for all two years (best and median of 7), printing ms, and checks
//! one answer against a full sort of the raw rows; then opening one deploy's detail.

use std::time::Instant;

use flightdeck_core::store::spans::Spread;
use flightdeck_core::store::Store;
use flightdeck_core::{domain::deploys, metrics::cycle, metrics::dora};

#[path = "support/fill.rs"]
mod fill;

const REPOS: i64 = 40;

fn repos() -> Vec<String> {
    (0..REPOS).map(|r| format!("/bench/repo{r}")).collect()
}

const END: i64 = 1_795_000_000;
const SPAN: i64 = 2 * 365 * 86_400;

async fn time<F, Fut, T>(label: &str, mut f: F) -> Result<T, Box<dyn std::error::Error>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, flightdeck_core::Error>>,
{
    let mut ms = Vec::new();
    let mut last = None;
    for _ in 0..7 {
        let t = Instant::now();
        last = Some(f().await?);
        ms.push(t.elapsed().as_secs_f64() * 1_000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{label:<40} best {:>7.1} ms   median {:>7.1} ms",
        ms[0], ms[3]
    );
    last.ok_or_else(|| "no run".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: bench_dora DATABASE_URL [COMMITS] [DEPLOYS]")?;
    let commits: i64 = args.next().map_or(Ok(1_000_000), |s| s.parse())?;
    let deploys: i64 = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let store = Store::open(&url).await?;
    // A store already filled with this many deploys (an earlier run kept) is reused.
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM deployments")
        .fetch_one(store.pool())
        .await?;
    if have == deploys {
        println!("reusing the {have} deploys already in {url}");
    } else {
        fill::fill_history(&store, &repos(), commits, deploys).await?;
    }
    if store.backend() == flightdeck_core::store::Backend::Postgres {
        // What autovacuum does to a store in use: statistics, and the visibility map that lets
        // the covering indexes answer without reading the table.
        let t = Instant::now();
        sqlx::query("VACUUM ANALYZE").execute(store.pool()).await?;
        println!("VACUUM ANALYZE in {:.1} s", t.elapsed().as_secs_f64());
    }
    let cfg = dora::DoraConfig::default();
    let quarter = (END - 90 * 86_400, END + 1);
    let all = (END - SPAN - 86_400, END + 1);
    for (name, (since, until)) in [("90 days", quarter), ("2 years", all)] {
        let d = time(&format!("dora, {name}"), || {
            dora::dora(&store, None, since, until, &cfg)
        })
        .await?;
        println!(
            "  {} deploys, {} commits shipped, lead time median {:?} s, CFR {:.3}",
            d.deploys,
            d.commits_shipped,
            d.lead_time.median_secs,
            d.change_failure_rate.unwrap_or(0.0)
        );
        let c = time(&format!("cycle time, {name}"), || {
            cycle::cycle_time(&store, None, since, until, "production")
        })
        .await?;
        let merge = &c.phases[4];
        println!(
            "  {} changes merged, time to merge median {:?} s",
            merge.all.count, merge.all.median_secs
        );
        let r = time(&format!("dora, one repo, {name}"), || {
            dora::dora(&store, Some("/bench/repo7"), since, until, &cfg)
        })
        .await?;
        println!("  {} commits shipped from repo7", r.commits_shipped);
        // The same lead time from every raw row, sorted (the slow way, once).
        let t = Instant::now();
        let raw: Vec<i64> = sqlx::query_scalar(
            "SELECT d.created_at - c.committed_at FROM deploy_commits dc
             JOIN deployments d ON d.id = dc.deployment
             JOIN commits c ON c.repo = dc.repo AND c.sha = dc.sha
             WHERE d.status = 'success' AND d.created_at >= $1 AND d.created_at < $2",
        )
        .bind(since)
        .bind(until)
        .fetch_all(store.pool())
        .await?;
        let check = Spread::of(raw);
        println!(
            "  check: full sort of {} raw rows took {:.0} ms; equal: {}",
            check.count,
            t.elapsed().as_secs_f64() * 1_000.0,
            check == d.lead_time
        );
    }
    // Opening one deploy (its commits over the last success) reads it by key, not the store.
    let last = format!("d{}", 8 * (deploys / REPOS) - 1);
    let detail = time("deploy detail, one deploy", || {
        deploys::detail(&store, &last, None)
    })
    .await?
    .ok_or("no such deploy")?;
    println!("  {} commits in {last}", detail.commits.len());
    Ok(())
}
