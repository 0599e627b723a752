//! `ingest`, `report` and `repo`: one pass over the sources, reports from the store, and the
//! list of watched repositories (kept in the store, beside those in the config file).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use flightdeck_core::config::Settings;
use flightdeck_core::domain::ingest::{self, Progress};
use flightdeck_core::metrics::reports::{self, CommitsBy, UsageBy};
use flightdeck_core::store::Store;
use flightdeck_core::views;

#[derive(Subcommand)]
pub enum ReportCmd {
    /// Tokens by kind and cost from agent logs.
    Usage {
        #[arg(long, value_enum, default_value = "day")]
        by: UsageByArg,
        /// First day to include (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Last day to include (YYYY-MM-DD, UTC).
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// What the agents cost, by vendor, model, agent, repo, day, week or month (table, JSON or
    /// CSV); unpriced usage is shown apart.
    Spend(crate::spend_cmd::SpendArgs),
    /// Vendor concentration: shares of spend and merged agent work, the HHI; `--down VENDOR`
    /// lists what depends on one vendor alone.
    Concentration(crate::spend_cmd::ConcentrationArgs),
    /// Billed cost (vendor cost reports) beside log-derived cost, per day and vendor, and the
    /// gap.
    Reconcile(crate::spend_cmd::ReconcileArgs),
    /// What the spend bought: cost per merged change and line, abandoned runs, review time.
    Value(crate::spend_cmd::ValueArgs),
    /// Per person and per `[team]` team: changes merged (authored, or whose agent runs they
    /// launched), agent runs and agent spend they launched.
    Team(crate::spend_cmd::ValueArgs),
    /// The DORA four keys from recorded deploys, agent vs human. Deployment frequency:
    /// successful production deploys per week and deploy days. Lead time: commit time to the
    /// first successful production deploy that shipped it (median, p90). Change failure rate:
    /// failed ÷ finished production deploys, where a deploy also failed when a revert or hotfix
    /// is deployed within the incident window after it, or an issue labelled `incident` opened
    /// after it and before the next good one. Time to restore: the incident issue's open →
    /// close, else failed deploy to the next good one.
    Dora(crate::report_cmd::DoraArgs),
    /// Agent vs human: change requests opened in the range, how many were merged or closed
    /// unmerged (acceptance), sent back with changes requested or reverted after merging
    /// (rework), agent cost per merged
    /// change; review load per reviewer (reviews given, requests waiting); cycle time of the
    /// changes merged in the range by phase (coding: first commit → opened, pickup: → first
    /// review, review: → merged, deploy: → in production, merge: opened → merged), median and
    /// p90 for agents and people; and changes merged per week.
    Velocity(crate::report_cmd::PeriodArgs),
    /// A self-contained HTML page for the week (DORA, agents vs people, cycle time, review
    /// load, trend charts as inline SVG) that opens without the app.
    Weekly(crate::report_cmd::WeeklyArgs),
    /// Agent runs with state, repo, branch, tokens and cost.
    Agents {
        #[arg(long)]
        json: bool,
    },
    /// Commits, lines added and removed, agent vs human share.
    Commits {
        #[arg(long, value_enum, default_value = "agent")]
        by: CommitsByArg,
        /// Only this repository (its path).
        #[arg(long)]
        repo: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum UsageByArg {
    Day,
    Month,
    Model,
    Agent,
    Session,
    Repo,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CommitsByArg {
    Agent,
    Author,
    Month,
}

#[derive(Subcommand)]
pub enum RepoCmd {
    /// Watch a git work tree (it is scanned on the next ingest or rescan).
    Add { path: PathBuf },
    /// Stop watching a repository added with `repo add` (its history stays in the store).
    Remove { path: PathBuf },
    /// List watched repositories and those agent logs point at but nobody added yet.
    List,
}

/// Reads every source into the store. `missing`: folders named on the command line that are
/// not there. A source that cannot be read fails the command (exit 1) after the summary of
/// what was read; corrupt lines only are skipped and counted.
pub async fn ingest(settings: &Settings, missing: Vec<String>) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let sources = settings.sources();
    let started = std::time::Instant::now();
    let tty = std::io::stderr().is_terminal();
    let show = |p: Progress| {
        if tty {
            let width = 30;
            let filled = (p.files_done * width)
                .checked_div(p.files_total)
                .unwrap_or(width);
            eprint!(
                "\r[{}{}] {}/{} log files, {} lines",
                "#".repeat(filled),
                " ".repeat(width - filled),
                p.files_done,
                p.files_total,
                p.lines
            );
        }
    };
    let now = crate::now();
    let report = ingest::run_with_progress(&store, &sources, None, now, Some(&show)).await?;
    if tty {
        eprintln!();
    }
    if !(missing.is_empty() && report.unreadable.is_empty()) {
        // A reader of the summary that stops early must not turn the failure into a success.
        crate::output::failed();
    }
    let unknown = match report.unknown_diffstats {
        0 => String::new(),
        n => format!(", {n} with lines unknown: objects not in this clone"),
    };
    outln!(
        "ingested in {:.1} s: {} repos ({} new commits{unknown}), {} log files read, {} lines, {} runs updated, {} lines skipped",
        started.elapsed().as_secs_f64(),
        report.repos,
        report.new_commits,
        report.files,
        report.lines,
        report.runs,
        report.skipped_lines
    );
    for p in report.problems.iter().take(20) {
        outln!("  skipped: {p}");
    }
    if report.problems.len() > 20 {
        outln!("  … and {} more", report.problems.len() - 20);
    }
    let unreadable: Vec<&String> = missing.iter().chain(&report.unreadable).collect();
    if unreadable.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for u in &unreadable {
        eprintln!("error: cannot read {u}");
    }
    eprintln!(
        "error: {} source(s) could not be read; everything else was ingested",
        unreadable.len()
    );
    Ok(ExitCode::FAILURE)
}

fn json(v: &impl serde::Serialize) -> Result<()> {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).context("serialising the report")?
    );
    Ok(())
}

fn tokens_fmt(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub async fn report(settings: &Settings, cmd: &ReportCmd) -> Result<ExitCode> {
    let store = Store::open_existing(&settings.database_url).await?;
    match cmd {
        ReportCmd::Usage {
            by,
            since,
            until,
            json: as_json,
        } => {
            let since = crate::spend_cmd::checked_day("--since", since)?;
            let until = crate::spend_cmd::checked_day("--until", until)?;
            let by = match by {
                UsageByArg::Day => UsageBy::Day,
                UsageByArg::Month => UsageBy::Month,
                UsageByArg::Model => UsageBy::Model,
                UsageByArg::Agent => UsageBy::Agent,
                UsageByArg::Session => UsageBy::Session,
                UsageByArg::Repo => UsageBy::Repo,
            };
            let r = reports::usage(&store, by, since, until).await?;
            if *as_json {
                return json(&r).map(|_| ExitCode::SUCCESS);
            }
            outln!(
                "{:<44} {:>14} {:>12} {:>14} {:>16} {:>12} {:>11}",
                "key",
                "input",
                "output",
                "cache write",
                "cache read",
                "reasoning",
                "cost USD"
            );
            for row in r.rows.iter().chain(std::iter::once(&r.total)) {
                let t = &row.tokens;
                outln!(
                    "{:<44} {:>14} {:>12} {:>14} {:>16} {:>12} {:>11.4}",
                    if row.key.is_empty() {
                        "(none)"
                    } else {
                        &row.key
                    },
                    tokens_fmt(t.input),
                    tokens_fmt(t.output),
                    tokens_fmt(t.cache_write),
                    tokens_fmt(t.cache_read),
                    tokens_fmt(t.reasoning),
                    row.cost_usd
                );
            }
        }
        ReportCmd::Spend(args) => return crate::spend_cmd::spend(settings, args).await,
        ReportCmd::Reconcile(args) => return crate::spend_cmd::reconcile(settings, args).await,
        ReportCmd::Value(args) => return crate::spend_cmd::value(settings, args).await,
        ReportCmd::Team(args) => return crate::spend_cmd::team(settings, args).await,
        ReportCmd::Dora(args) => return crate::report_cmd::dora_report(settings, args).await,
        ReportCmd::Velocity(args) => {
            return crate::report_cmd::velocity_report(settings, args).await
        }
        ReportCmd::Weekly(args) => return crate::report_cmd::weekly_report(settings, args).await,
        ReportCmd::Concentration(args) => {
            return crate::spend_cmd::concentration(settings, args).await
        }
        ReportCmd::Agents { json: as_json } => {
            let runs = store.agent_runs().await?;
            if *as_json {
                return json(&runs).map(|_| ExitCode::SUCCESS);
            }
            outln!(
                "{:<12} {:<9} {:<28} {:<26} {:<30} {:>12} {:>9}",
                "agent",
                "state",
                "model",
                "repo",
                "branch",
                "tokens",
                "cost USD"
            );
            for r in &runs {
                let repo = r
                    .repo
                    .as_deref()
                    .and_then(|p| p.rsplit('/').next())
                    .unwrap_or("-");
                outln!(
                    "{:<12} {:<9} {:<28} {:<26} {:<30} {:>12} {:>9.4}",
                    r.agent,
                    r.state.as_str(),
                    r.model,
                    repo,
                    r.branch.as_deref().unwrap_or("-"),
                    tokens_fmt(r.tokens.total()),
                    r.cost_usd
                );
            }
        }
        ReportCmd::Commits {
            by,
            repo,
            json: as_json,
        } => {
            let by = match by {
                CommitsByArg::Agent => CommitsBy::Agent,
                CommitsByArg::Author => CommitsBy::Author,
                CommitsByArg::Month => CommitsBy::Month,
            };
            // A repo is keyed by its identity: a clone's path names it through the store.
            let repo = match repo {
                Some(p) => {
                    let path = p.canonicalize().unwrap_or_else(|_| p.clone());
                    let path = path.display().to_string();
                    let known = store.repos().await?;
                    Some(
                        known
                            .into_iter()
                            .find(|r| r.path.as_deref() == Some(path.as_str()) || r.id == path)
                            .map(|r| r.id)
                            .ok_or_else(|| {
                                anyhow::anyhow!("--repo {path}: not a repo Flightdeck has read")
                            })?,
                    )
                }
                None => None,
            };
            let rows = reports::commits(&store, by, repo.as_deref()).await?;
            if *as_json {
                return json(&rows).map(|_| ExitCode::SUCCESS);
            }
            outln!(
                "{:<30} {:>8} {:>8} {:>10} {:>10} {:>7}",
                "key",
                "commits",
                "agent",
                "added",
                "removed",
                "agent%"
            );
            for r in &rows {
                outln!(
                    "{:<30} {:>8} {:>8} {:>10} {:>10} {:>6.1}%",
                    r.key,
                    r.commits,
                    r.agent_commits,
                    r.insertions,
                    r.deletions,
                    r.agent_share * 100.0
                );
            }
            let unknown: i64 = rows.iter().map(|r| r.diffstat_unknown).sum();
            if unknown > 0 {
                outln!(
                    "\n{unknown} commits' lines are unknown (their objects are not in this clone: a \
                     partial or shallow clone) and are not in added/removed"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn repo(settings: &Settings, cmd: &RepoCmd) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    match cmd {
        RepoCmd::Add { path } => {
            let repo = git2::Repository::discover(path)
                .with_context(|| format!("{} is not inside a git work tree", path.display()))?;
            let Some(workdir) = repo.workdir() else {
                bail!(
                    "{} is a bare repository; Flightdeck watches work trees",
                    path.display()
                );
            };
            let workdir = workdir
                .canonicalize()
                .with_context(|| workdir.display().to_string())?;
            store.watch_repo(&workdir.display().to_string()).await?;
            outln!(
                "watching {} (scanned on the next ingest or rescan)",
                workdir.display()
            );
        }
        RepoCmd::Remove { path } => {
            // The path as added (canonical), or as given when it is gone already.
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            let mut removed = false;
            for p in [&canonical, path] {
                removed |= store.unwatch_repo(&p.display().to_string()).await?;
            }
            if !removed {
                bail!(
                    "{} is not a watched repository (`flightdeck repo list` shows them)",
                    path.display()
                );
            }
            outln!("no longer watching {}", canonical.display());
        }
        RepoCmd::List => {
            for r in store.watched_repos().await? {
                outln!("watched    {r}");
            }
            for p in &settings.repos {
                outln!("configured {}", p.display());
            }
            for s in views::suggested_repos(&store).await? {
                outln!("suggested  {s}   (agent runs there; `flightdeck repo add {s}`)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
