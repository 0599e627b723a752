//! `flightdeck report dora | velocity | weekly`: the four DORA keys with their definitions (see
//! `core::dora`), agents vs people, and the weekly HTML page.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use flightdeck_core::config::Settings;
use flightdeck_core::metrics::dora::{self, Dora, DoraConfig, Spread};
use flightdeck_core::store::Store;

use crate::spend_cmd::checked_day;

/// A reporting period and an output format, as `report dora` and `report velocity` take them.
#[derive(Args)]
pub struct PeriodArgs {
    /// First day (YYYY-MM-DD, UTC); default 28 days before --until.
    #[arg(long)]
    since: Option<String>,
    /// Last day included; default today.
    #[arg(long)]
    until: Option<String>,
    #[arg(long, conflicts_with_all = ["csv", "md"])]
    json: bool,
    #[arg(long, conflicts_with = "md")]
    csv: bool,
    #[arg(long)]
    md: bool,
}

#[derive(Args)]
pub struct DoraArgs {
    #[command(flatten)]
    period: PeriodArgs,
    /// The production environment's name.
    #[arg(long, default_value = "production")]
    env: String,
    /// A revert or hotfix deployed this soon after a deploy marks it failed.
    #[arg(long, default_value_t = 24)]
    incident_window_hours: i64,
    /// Only this repo (path or name).
    #[arg(long)]
    repo: Option<String>,
}

fn hours(s: Option<i64>) -> String {
    s.map_or_else(|| "-".into(), |v| format!("{:.1} h", v as f64 / 3_600.0))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1} %", v * 100.0))
}

/// The rows every format prints: (metric, value, cases).
fn rows(d: &Dora) -> Vec<(String, String, String)> {
    let spread = |name: &str, s: &Spread| {
        vec![
            (
                format!("{name} (median)"),
                hours(s.median_secs),
                s.count.to_string(),
            ),
            (
                format!("{name} (p90)"),
                hours(s.p90_secs),
                s.count.to_string(),
            ),
        ]
    };
    let mut v = vec![
        (
            "deploys".into(),
            d.deploys.to_string(),
            d.deploy_days.to_string() + " days",
        ),
        (
            "deploys per week".into(),
            format!("{:.2}", d.deploys_per_week),
            String::new(),
        ),
    ];
    v.extend(spread("lead time", &d.lead_time));
    v.extend(spread("lead time, agents", &d.lead_time_agent));
    v.extend(spread("lead time, people", &d.lead_time_human));
    v.push((
        "change failure rate".into(),
        pct(d.change_failure_rate),
        format!(
            "{} failed ({} by a later revert or hotfix, {} by a reported incident)",
            d.failed_deploys, d.incidents, d.incident_issues
        ),
    ));
    v.extend(spread("time to restore", &d.time_to_restore));
    v.push((
        "agent share of shipped commits".into(),
        pct(d.agent_share),
        d.commits_shipped.to_string(),
    ));
    v
}

/// `[since, until)` in Unix seconds from `--since`/`--until` days (UTC, both included); by
/// default the 28 days up to today.
fn range(since: &Option<String>, until: &Option<String>, now: i64) -> Result<(i64, i64)> {
    let today = flightdeck_core::model::days::start_of(&flightdeck_core::model::days::of(now))
        .unwrap_or(now);
    let until = match checked_day("--until", until)? {
        Some(d) => flightdeck_core::model::days::start_of(d).unwrap_or(today) + 86_400,
        None => today + 86_400,
    };
    let since = match checked_day("--since", since)? {
        Some(d) => flightdeck_core::model::days::start_of(d).unwrap_or(until - 28 * 86_400),
        None => until - 28 * 86_400,
    };
    if since >= until {
        bail!("--since must come before --until");
    }
    Ok((since, until))
}

#[derive(Args)]
pub struct WeeklyArgs {
    /// The week's last day (YYYY-MM-DD, UTC); default today.
    #[arg(long)]
    until: Option<String>,
    /// How many weeks the trend charts cover.
    #[arg(long, default_value_t = 12)]
    weeks: i64,
    /// Where to write the HTML file.
    #[arg(long, default_value = "flightdeck-weekly.html")]
    out: std::path::PathBuf,
}

/// Writes the weekly HTML report.
pub async fn weekly_report(settings: &Settings, a: &WeeklyArgs) -> Result<ExitCode> {
    let store = Store::open_existing(&settings.database_url).await?;
    let (_, until) = range(&None, &a.until, chrono::Utc::now().timestamp())?;
    let html = flightdeck_server::report::weekly_html(&store, until, a.weeks).await?;
    std::fs::write(&a.out, html)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    outln!("wrote {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Agent vs human acceptance, rework (changes requested; reverted after merging) and cost per
/// merged change, and review load.
pub async fn velocity_report(settings: &Settings, a: &PeriodArgs) -> Result<ExitCode> {
    let store = Store::open_existing(&settings.database_url).await?;
    let (since, until) = range(&a.since, &a.until, chrono::Utc::now().timestamp())?;
    let v = flightdeck_core::metrics::velocity::report(&store, since, until).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let money = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("${v:.2}"));
    let head = [
        "who",
        "opened",
        "merged",
        "closed",
        "acceptance",
        "reworked",
        "reverted",
        "cost/merged",
    ];
    let rows: Vec<[String; 8]> = v
        .split
        .iter()
        .map(|s| {
            [
                s.kind.clone(),
                s.opened.to_string(),
                s.merged.to_string(),
                s.closed.to_string(),
                pct(s.acceptance_rate),
                format!("{} ({})", s.reworked, pct(s.rework_rate)),
                format!("{} ({})", s.reverted, pct(s.revert_rate)),
                money(s.cost_per_merged_usd),
            ]
        })
        .collect();
    let phase_head = ["phase", "changes", "all", "agents", "people"];
    let both = |s: &flightdeck_core::store::spans::Spread| {
        format!("{} / {}", hours(s.median_secs), hours(s.p90_secs))
    };
    let phases: Vec<[String; 5]> = v
        .cycle
        .phases
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.all.count.to_string(),
                both(&p.all),
                both(&p.agent),
                both(&p.human),
            ]
        })
        .collect();
    if a.csv {
        let mut w = crate::output::csv();
        w.write_record(head)?;
        for r in &rows {
            w.write_record(r)?;
        }
        w.flush()?;
        // A second table after an empty line: each phase's median and 90th percentile in
        // seconds.
        out!("\r\n");
        let mut w = crate::output::csv();
        w.write_record([
            "phase",
            "changes",
            "all_median_secs",
            "all_p90_secs",
            "agent_median_secs",
            "agent_p90_secs",
            "human_median_secs",
            "human_p90_secs",
        ])?;
        let s = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
        for p in &v.cycle.phases {
            w.write_record([
                p.name.to_string(),
                p.all.count.to_string(),
                s(p.all.median_secs),
                s(p.all.p90_secs),
                s(p.agent.median_secs),
                s(p.agent.p90_secs),
                s(p.human.median_secs),
                s(p.human.p90_secs),
            ])?;
        }
        w.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    if a.md {
        outln!("| {} |\n|{}", head.join(" | "), "---|".repeat(head.len()));
        rows.iter().for_each(|r| outln!("| {} |", r.join(" | ")));
        outln!("\ncycle time of the changes merged in the range, median / p90:\n");
        outln!(
            "| {} |\n|{}",
            phase_head.join(" | "),
            "---|".repeat(phase_head.len())
        );
        phases.iter().for_each(|r| outln!("| {} |", r.join(" | ")));
    } else {
        for r in std::iter::once(head.map(String::from)).chain(rows) {
            outln!(
                "{:<6} {:>7} {:>7} {:>7} {:>11} {:>13} {:>12}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6]
            );
        }
        outln!("\ncycle time of the changes merged in the range, median / p90:");
        for r in std::iter::once(phase_head.map(String::from)).chain(phases) {
            outln!(
                "  {:<7} {:>7} {:>17} {:>17} {:>17}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4]
            );
        }
    }
    outln!("\nmerged per week (agents / people):");
    for w in &v.cycle.throughput {
        outln!("  {}  {:>4} / {}", w.week, w.agent, w.human);
    }
    outln!("\nreview load (reviews given in the range; open requests waiting):");
    for r in &v.reviewers {
        outln!(
            "  {:<20} {:>3} reviews ({} approved, {} changes requested), {} waiting",
            r.reviewer,
            r.reviews,
            r.approvals,
            r.changes_requested,
            r.waiting
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn dora_report(settings: &Settings, a: &DoraArgs) -> Result<ExitCode> {
    let store = Store::open_existing(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    let (since, until) = range(&a.period.since, &a.period.until, now)?;
    let repo = match &a.repo {
        Some(want) => match store.repo_named(want).await? {
            Some(r) => Some(r.id),
            None => bail!("`{want}` is not a watched repo"),
        },
        None => None,
    };
    let cfg = DoraConfig {
        production: a.env.clone(),
        incident_window_secs: a.incident_window_hours.max(0) * 3_600,
    };
    let d = dora::dora(&store, repo.as_deref(), since, until, &cfg).await?;
    if a.period.json {
        outln!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = rows(&d);
    if a.period.csv {
        let mut w = crate::output::csv();
        w.write_record(["metric", "value", "cases"])?;
        for (m, v, c) in rows {
            w.write_record([m.to_string(), v.to_string(), c.to_string()])?;
        }
        w.flush()?;
    } else if a.period.md {
        outln!(
            "| metric | value | cases |\n|---|---|---|\n{}",
            rows.iter()
                .map(|(m, v, c)| format!("| {m} | {v} | {c} |"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    } else {
        outln!(
            "DORA for `{}` from {} to {} (definitions: `flightdeck report dora --help`, README)",
            d.production,
            flightdeck_core::model::days::of(since),
            flightdeck_core::model::days::of(until - 1)
        );
        for (m, v, c) in rows {
            outln!("  {m:<32} {v:>10}  {c}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
