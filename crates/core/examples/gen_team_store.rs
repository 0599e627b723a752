//! A store at team scale, for the load and soak test (`bench/run.py`, section `load`):
//! `gen_team_store DATABASE_URL [COMMITS] [RECORDS] [DEPLOYS] [OPEN]` fills a fresh store with
//! 50 repos on GitHub (no clone on this machine), COMMITS commits (default 1 million) with
//! DEPLOYS production deploys (default 100,000) and one merged change each over two years,
//! RECORDS usage records (default 10 million) in 50,000 agent runs, the spend rollup built, and
//! OPEN open pull requests (default 2,000): three checks each, reviews on most, the paths they
//! touch (some protected), a third on branches agent runs worked on. Team budgets are set so
//! the Spend view judges them; the runs become work items, as ingest makes them. A store that
//! already holds the open pull requests is left as is.
//! Prints what it made and how long it took.

use std::time::Instant;

use flightdeck_core::model::pricing::PriceTable;
use flightdeck_core::model::{
    Author, ChangeKind, ChangeRequest, ChangeState, Check, Repo, Review, ReviewState,
};
use flightdeck_core::{domain::budgets, store::Store};

#[path = "support/fill.rs"]
mod fill;

const REPOS: usize = 50;
/// Paths a pull request may touch; the last two are protected by the default policy's kind.
const PATHS: [&str; 8] = [
    "src/lib.rs",
    "src/api/handlers.rs",
    "src/model.rs",
    "tests/api.rs",
    "README.md",
    "ui/src/App.tsx",
    "migrations/0042_add_index.sql",
    ".github/workflows/ci.yml",
];

fn repo_id(r: usize) -> String {
    format!("github.com/acme/svc{r:02}")
}

async fn fill_open(store: &Store, open: usize) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp();
    for n in 0..open {
        let r = n % REPOS;
        let k = n / REPOS;
        // A third on the branch of an agent run in the same repo (run s works in repo s % 50).
        let s = r + REPOS * k;
        let agent_made = n % 3 != 2;
        let head = if n.is_multiple_of(3) {
            format!("{}/task-{s}", fill::AGENTS[s % 6])
        } else {
            format!("feature/{n}")
        };
        let id = format!("github:acme/svc{r:02}#{}", 10_000 + k);
        let head_sha = format!("{:040x}", 0xfeed_0000_0000u64 + n as u64);
        let opened = now - 3_600 * (1 + (n as i64 * 37) % 400);
        store
            .upsert_change_request(&ChangeRequest {
                id: id.clone(),
                kind: ChangeKind::Github,
                repo: repo_id(r),
                title: format!("Change {n}: tidy the handlers and add a test"),
                head,
                base: "main".into(),
                head_sha: head_sha.clone(),
                author: if agent_made {
                    Author::Agent {
                        agent: fill::AGENTS[n % 6].into(),
                    }
                } else {
                    Author::Human {
                        name: format!("dev{}", n % 12),
                    }
                },
                state: ChangeState::Open,
                created_at: opened,
                updated_at: opened + 600,
                commits: 1 + (n as i64 % 7),
                files_changed: Some(1 + (n as i64 % 9)),
                insertions: Some(10 + (n as i64 * 13) % 400),
                deletions: Some((n as i64 * 7) % 120),
                agent_cost_usd: 0.0,
                labels: if n.is_multiple_of(5) {
                    vec!["agent".into()]
                } else {
                    vec![]
                },
                requested_reviewers: vec![format!("lead{}", n % 4)],
                mergeable: None,
                merged_at: None,
                first_commit_at: Some(opened - 1_800),
            })
            .await?;
        for (c, name) in ["build", "test", "lint"].iter().enumerate() {
            let failed = c == 1 && n.is_multiple_of(11);
            let running = c == 2 && n.is_multiple_of(7);
            store
                .upsert_check(&Check {
                    change_request: id.clone(),
                    name: (*name).into(),
                    status: if running { "in_progress" } else { "completed" }.into(),
                    conclusion: (!running)
                        .then(|| if failed { "failure" } else { "success" }.into()),
                    url: Some(format!(
                        "https://github.com/acme/svc{r:02}/actions/runs/{n}{c}"
                    )),
                    ever_failed: failed,
                })
                .await?;
        }
        if n % 4 != 3 {
            store
                .add_review(&Review {
                    action_key: format!("gh-review-{n}"),
                    change_request: id.clone(),
                    head_sha: head_sha.clone(),
                    reviewer: format!("lead{}", n % 4),
                    state: if n.is_multiple_of(9) {
                        ReviewState::ChangesRequested
                    } else {
                        ReviewState::Approved
                    },
                    body: String::new(),
                    at: opened + 1_200,
                })
                .await?;
        }
        let paths: Vec<String> = (0..1 + n % 9)
            .map(|i| PATHS[(n + i * 3) % PATHS.len()].to_string())
            .collect();
        store.set_change_files(&id, &head_sha, &paths).await?;
    }
    println!(
        "filled {open} open pull requests (3 checks each, reviews, paths) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: gen_team_store DATABASE_URL [COMMITS] [RECORDS] [DEPLOYS] [OPEN]")?;
    let mut num = |default: u64| -> u64 {
        args.next()
            .and_then(|a| a.replace('_', "").parse().ok())
            .unwrap_or(default)
    };
    let (commits, records, deploys, open) = (
        num(1_000_000),
        num(10_000_000),
        num(100_000),
        num(2_000) as usize,
    );
    let store = Store::open(&url).await?;
    let have: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM change_requests WHERE state = 'open'",
    )
    .fetch_one(store.pool())
    .await?;
    if have >= open as i64 && open > 0 {
        println!("{url} already holds {have} open pull requests: kept");
    } else {
        fill(&store, &url, commits, records, deploys, open).await?;
    }
    // What ingest does after a pass: the runs become work items, which follow their changes
    // (nothing to do when done before).
    let t = Instant::now();
    let made = flightdeck_core::domain::work::adopt_runs(&store).await?;
    flightdeck_core::domain::work::follow_changes(&store).await?;
    println!(
        "{made} work items adopted from the runs in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn fill(
    store: &Store,
    url: &str,
    commits: u64,
    records: u64,
    deploys: u64,
    open: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let repos: Vec<String> = (0..REPOS).map(repo_id).collect();
    for (r, id) in repos.iter().enumerate() {
        store
            .upsert_repo(&Repo {
                id: id.clone(),
                path: None,
                name: format!("svc{r:02}"),
                default_branch: "main".into(),
                remote_url: Some(format!("https://github.com/acme/svc{r:02}.git")),
                last_scanned_at: None,
            })
            .await?;
    }
    fill::fill_history(store, &repos, commits as i64, deploys as i64).await?;
    fill::fill_usage(store, &repos, records).await?;
    let prices = PriceTable::builtin();
    let t = Instant::now();
    store.rebuild_log_spend(&prices).await?;
    println!("spend rollup built in {:.1} s", t.elapsed().as_secs_f64());
    let now = chrono::Utc::now().timestamp();
    budgets::set(store, "team", None, 50_000.0, &prices, now).await?;
    budgets::set(store, "vendor", Some("anthropic"), 30_000.0, &prices, now).await?;
    budgets::set(store, "repo", Some("svc07"), 2_000.0, &prices, now).await?;
    fill_open(store, open).await?;
    // The planner's statistics, as a long-lived database has them.
    sqlx::query(if url.starts_with("postgres") {
        "ANALYZE"
    } else {
        "PRAGMA optimize"
    })
    .execute(store.pool())
    .await?;
    Ok(())
}
