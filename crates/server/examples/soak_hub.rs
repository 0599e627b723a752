//! The soak test's GitHub (`bench/run.py`, section `soak`): `soak_hub OWNER/NAME TOKEN
//! [EVERY_SECS]` serves the fake GitHub (`fakehub`) on a free port, prints its URL on the
//! first line, and then keeps changing pull requests as a busy team does: every EVERY_SECS
//! seconds (default 5) one pull request gets a new head commit with running checks that later
//! pass or fail, and every tenth change a new one opens and the oldest open one is merged or
//! closed. Prints one line per change; runs until killed.

use std::io::Write;
use std::time::Duration;

use fakehub::{Hub, Pr};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: soak_hub OWNER/NAME TOKEN [EVERY_SECS]";
    let repo = args.next().ok_or(usage)?;
    let token = args.next().ok_or(usage)?;
    let every: f64 = args
        .next()
        .map_or(Ok(5.0), |a| a.parse())
        .map_err(|_| usage)?;
    let hub = Hub::new();
    hub.require_token(&token);
    let open_at_start = 20u64;
    for n in 1..=open_at_start {
        hub.add_pull(&repo, pull(n, 0));
        checks(&hub, &repo, n, 0, "completed", Some("success"));
    }
    let url = hub.serve(0).await?;
    println!("{url}");
    std::io::stdout().flush()?;
    let (mut oldest, mut newest) = (1u64, open_at_start);
    // The push whose checks are still running: they finish at the next change.
    let mut running: Option<(u64, u64)> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(every));
    ticker.tick().await;
    for change in 1u64.. {
        ticker.tick().await;
        // A push to one open pull request: a new head with checks running, done next time.
        let n = oldest + change % (newest - oldest + 1);
        let rev = change;
        hub.update_pull(&repo, n, |p| {
            p.head_sha = sha(n, rev);
            p.title = format!("Change {n}, revision {rev}");
            p.updated_at = now();
            p.commits += 1;
            p.additions += 3;
        });
        let verdict = if change.is_multiple_of(13) {
            "failure"
        } else {
            "success"
        };
        if let Some((pr, at)) = running.replace((n, rev)) {
            checks(&hub, &repo, pr, at, "completed", Some(verdict));
        }
        checks(&hub, &repo, n, rev, "in_progress", None);
        let mut line = format!("change {change}: #{n} pushed");
        if change.is_multiple_of(10) {
            newest += 1;
            hub.add_pull(&repo, pull(newest, 0));
            checks(&hub, &repo, newest, 0, "queued", None);
            let how = if change.is_multiple_of(20) {
                "merged"
            } else {
                "closed"
            };
            hub.update_pull(&repo, oldest, |p| {
                p.state = how.into();
                p.updated_at = now();
                if how == "merged" {
                    p.merge_commit_sha = Some(sha(oldest, 999_999));
                }
            });
            line.push_str(&format!("; #{newest} opened; #{oldest} {how}"));
            oldest += 1;
        }
        println!("{line}");
        std::io::stdout().flush()?;
    }
    Ok(())
}

fn sha(n: u64, rev: u64) -> String {
    format!("{:020x}{:020x}", n, rev)
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn pull(n: u64, rev: u64) -> Pr {
    let author = if n.is_multiple_of(3) {
        "dev"
    } else {
        "claude[bot]"
    };
    let mut p = Pr::new(
        n,
        &format!("Change {n}"),
        author,
        &format!("claude/task-{n}"),
        &sha(n, rev),
    );
    p.created_at = now();
    p.updated_at = p.created_at.clone();
    p
}

fn checks(hub: &Hub, repo: &str, n: u64, rev: u64, status: &str, conclusion: Option<&str>) {
    hub.set_check_runs(
        repo,
        &sha(n, rev),
        &[("build", status, conclusion), ("test", status, conclusion)],
    );
}
