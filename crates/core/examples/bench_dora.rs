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

const REPOS: i64 = 40;
const END: i64 = 1_795_000_000;
const SPAN: i64 = 2 * 365 * 86_400;

enum V {
    I(i64),
    S(String),
}

/// Inserts rows many at a time (one statement per 100 rows).
async fn insert(
    store: &Store,
    table: &str,
    cols: &[&str],
    rows: Vec<Vec<V>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut tx = store.begin().await?;
    for chunk in rows.chunks(100) {
        let mut q = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(',');
            }
            let marks: Vec<String> = cols
                .iter()
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            q.push_str(&format!("({})", marks.join(", ")));
        }
        let mut query = sqlx::query(&q);
        for row in chunk {
            for v in row {
                query = match v {
                    V::I(i) => query.bind(*i),
                    V::S(s) => query.bind(s.clone()),
                };
            }
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn fill(store: &Store, commits: i64, deploys: i64) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let per_repo = deploys / REPOS;
    let per_deploy = (commits / deploys).max(1);
    let gap = SPAN / per_repo;
    for r in 0..REPOS {
        let repo = format!("/bench/repo{r}");
        let (mut cs, mut ds, mut dcs, mut crs, mut rvs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for k in 0..per_repo {
            let n = r * per_repo + k;
            let at = END - SPAN + k * gap + (r * 97) % gap;
            let failed = n % 13 == 0;
            let dep = format!("d{n}");
            let mut first = i64::MAX;
            let mut head = String::new();
            for j in 0..per_deploy {
                let sha = format!("{:040x}", n * per_deploy + j);
                // Made over the interval before the deploy; lead times from minutes to days.
                let t = at - 60 - ((n * 7_919 + j * 104_729) % gap.max(61));
                first = first.min(t);
                let summary = if j == 0 && n % 33 == 0 {
                    format!("Revert \"change {}\"", n - 1)
                } else {
                    format!("change {n}.{j}")
                };
                let agent = (n + j) % 10 < 6;
                cs.push(vec![
                    V::S(repo.clone()),
                    V::S(sha.clone()),
                    V::S("dev".into()),
                    V::S("dev@acme.dev".into()),
                    V::I(t),
                    V::I(t),
                    V::S(summary),
                    V::S(if agent { "claude-code" } else { "" }.into()),
                ]);
                dcs.push(vec![
                    V::S(dep.clone()),
                    V::S(repo.clone()),
                    V::S(sha.clone()),
                ]);
                head = sha;
            }
            ds.push(vec![
                V::S(dep.clone()),
                V::S(repo.clone()),
                V::S("production".into()),
                V::S(head.clone()),
                V::S(if failed { "failure" } else { "success" }.into()),
                V::I(at),
                V::S("bench".into()),
                V::S("exact".into()),
            ]);
            let id = format!("local:{repo}:b{n}");
            let merged = at - 60;
            let opened = first + (merged - first) / 3;
            crs.push(vec![
                V::S(id.clone()),
                V::S("local".into()),
                V::S(repo.clone()),
                V::S(format!("change {n}")),
                V::S(format!("b{n}")),
                V::S("main".into()),
                V::S(head),
                V::S(if n % 10 < 6 { "agent" } else { "human" }.into()),
                V::S("dev".into()),
                V::S("merged".into()),
                V::I(opened),
                V::I(merged),
                V::I(merged),
                V::I(first),
            ]);
            if n % 5 != 0 {
                rvs.push(vec![
                    V::S(format!("rv{n}")),
                    V::S(id),
                    V::S(String::new()),
                    V::S("ana".into()),
                    V::S("approved".into()),
                    V::S(String::new()),
                    V::I(opened + (merged - opened) / 2),
                ]);
            }
        }
        // The agent column is NULL for people: the empty string stands for it here.
        insert(
            store,
            "commits",
            &[
                "repo",
                "sha",
                "author_name",
                "author_email",
                "authored_at",
                "committed_at",
                "summary",
                "agent",
            ],
            cs,
        )
        .await?;
        sqlx::query("UPDATE commits SET agent = NULL WHERE agent = '' AND repo = $1")
            .bind(&repo)
            .execute(store.pool())
            .await?;
        insert(
            store,
            "deployments",
            &[
                "id",
                "repo",
                "environment",
                "sha",
                "status",
                "created_at",
                "source",
                "contents",
            ],
            ds,
        )
        .await?;
        insert(store, "deploy_commits", &["deployment", "repo", "sha"], dcs).await?;
        insert(
            store,
            "change_requests",
            &[
                "id",
                "kind",
                "repo",
                "title",
                "head",
                "base",
                "head_sha",
                "author_kind",
                "author",
                "state",
                "created_at",
                "updated_at",
                "merged_at",
                "first_commit_at",
            ],
            crs,
        )
        .await?;
        insert(
            store,
            "reviews",
            &[
                "action_key",
                "change_request",
                "head_sha",
                "reviewer",
                "state",
                "body",
                "at",
            ],
            rvs,
        )
        .await?;
    }
    println!(
        "filled {commits} commits, {deploys} deploys, {deploys} changes in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    for r in 0..REPOS {
        let repo = format!("/bench/repo{r}");
        deploys::measure(store, &repo, "production").await?;
        flightdeck_core::store::cycle::measure(store, &repo).await?;
    }
    println!(
        "measured (lead-time and cycle spans, once) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

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
        fill(&store, commits, deploys).await?;
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
