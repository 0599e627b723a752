//! Fills a store with generated history at scale, for the benchmarks (`bench_dora`,
//! `bench_rollups`) and the team-scale load test (`gen_team_store`): commits, deploys and
//! merged changes; usage records and their runs. Rows go in many at a time, bypassing ingest.

#![allow(dead_code)] // each example uses part of it

use std::time::Instant;

use flightdeck_core::domain::deploys;
use flightdeck_core::store::Store;

const END: i64 = 1_795_000_000;
const SPAN: i64 = 2 * 365 * 86_400;

pub enum V {
    I(i64),
    S(String),
}

/// Inserts rows many at a time (one statement per 100 rows).
pub async fn insert(
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

/// Two years of history in `repos` (names as stored): `commits` commits, `deploys` production
/// deploys (8 % failed, 3 % shipping a revert) each shipping the commits made since the one
/// before, one merged change per deploy (80 % reviewed); then the lead-time and cycle spans
/// measured once, as recording does.
pub async fn fill_history(
    store: &Store,
    repos: &[String],
    commits: i64,
    deploys: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    let n_repos = repos.len() as i64;
    let started = Instant::now();
    let per_repo = deploys / n_repos;
    let per_deploy = (commits / deploys).max(1);
    let gap = SPAN / per_repo;
    for (r, repo) in (0i64..).zip(repos) {
        let repo = repo.clone();
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
    // Written around `upsert_commits`, so the weekly sums are built once here.
    store.rebuild_commit_weeks().await?;
    let started = Instant::now();
    for repo in repos {
        deploys::measure(store, repo, "production").await?;
        flightdeck_core::store::cycle::measure(store, repo).await?;
    }
    println!(
        "measured (lead-time and cycle spans, once) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

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
/// A session's agent is `AGENTS[s % 6]`.
pub const AGENTS: [&str; 6] = [
    "claude-code",
    "codex",
    "gemini",
    "claude-code",
    "codex",
    "aider",
];
pub const SESSION: u64 = 200;

fn day(i: u64) -> String {
    let d = chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap_or_default()
        + chrono::Duration::days((i % 365) as i64);
    d.format("%Y-%m-%d").to_string()
}

/// `records` usage records over a year (12 models of three vendors, 6 agents, sessions of
/// `SESSION` requests), their sessions spread over `repos`.
pub async fn fill_usage(
    store: &Store,
    repos: &[String],
    records: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let n_repos = repos.len() as u64;
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
        .bind(&repos[(s % n_repos) as usize])
        .bind(&repos[(s % n_repos) as usize])
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

pub async fn flush(
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
