//! `flightdeck deploy record | list | show` — deploys from any pipeline, with what each shipped —,
//! `flightdeck release list | show | approve | reject` and `flightdeck report dora`: the four
//! keys with their definitions (see `core::dora`).

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use flightdeck_core::config::Settings;
use flightdeck_core::deploys::{self, Record};
use flightdeck_core::dora::{self, Dora, DoraConfig, Spread};
use flightdeck_core::model::Deployment;
use flightdeck_core::store::Store;

use crate::spend_cmd::checked_day;

#[derive(Subcommand)]
pub enum DeployCmd {
    /// Record a deploy from any pipeline (a second record with the same --id updates it).
    Record {
        #[arg(long)]
        env: String,
        /// The commit deployed (sha or any revision).
        #[arg(long)]
        sha: String,
        /// success, failure, in_progress or queued.
        #[arg(long)]
        status: String,
        /// When: RFC 3339 (2026-11-25T14:00:00Z) or Unix seconds; default now.
        #[arg(long)]
        at: Option<String>,
        /// The repo (path or name); needed when several are watched.
        #[arg(long)]
        repo: Option<String>,
        /// The pipeline's id for this deploy.
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Deploys, newest first, per environment.
    List {
        #[arg(long)]
        env: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One deploy: what it shipped (commits with agent attribution, change requests).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum IncidentCmd {
    /// Record an incident from a pager or by hand (a second record with the same --id updates
    /// it: record it when it opens, again with --closed when it is over). DORA counts it
    /// against the last successful production deploy before it opened.
    Record {
        #[arg(long)]
        title: String,
        /// When it began: RFC 3339 or Unix seconds; default now.
        #[arg(long)]
        opened: Option<String>,
        /// When it was over.
        #[arg(long)]
        closed: Option<String>,
        /// The repo (path or name); needed when several are watched.
        #[arg(long)]
        repo: Option<String>,
        /// The pager's id for it.
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Incidents (from labelled issues and recorded ones), oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn show_incident(i: &flightdeck_core::model::Incident) {
    let when = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    println!(
        "{:<28} {}  {:<16}  {}",
        i.id,
        when(i.opened_at),
        i.closed_at
            .map_or_else(|| "open".to_string(), |c| format!("closed {}", when(c))),
        i.title
    );
}

pub async fn incident(settings: &Settings, cmd: &IncidentCmd) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    match cmd {
        IncidentCmd::Record {
            title,
            opened,
            closed,
            repo,
            id,
            url,
            json,
        } => {
            // The repos must be known to say which one it is in.
            flightdeck_core::ingest::run(&store, &settings.sources(), None, now).await?;
            let r = flightdeck_core::incidents::IncidentRecord {
                repo: repo.clone(),
                title: title.clone(),
                opened: opened
                    .as_deref()
                    .map(|t| parse_time("--opened", t))
                    .transpose()?,
                closed: closed
                    .as_deref()
                    .map(|t| parse_time("--closed", t))
                    .transpose()?,
                id: id.clone(),
                url: url.clone(),
            };
            let i = flightdeck_core::incidents::record(&store, &r, now).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&i)?);
            } else {
                show_incident(&i);
            }
        }
        IncidentCmd::List { json } => {
            let list = store.incidents(None, i64::MIN).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no incidents; issues labelled `incident` on GitHub, or `flightdeck incident record --title T`, add them");
            } else {
                list.iter().for_each(show_incident);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

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

fn parse_at(at: &str) -> Result<i64> {
    parse_time("--at", at)
}

/// A time given as `flag`: Unix seconds or RFC 3339.
fn parse_time(flag: &str, at: &str) -> Result<i64> {
    if let Ok(secs) = at.trim().parse::<i64>() {
        return Ok(secs);
    }
    chrono::DateTime::parse_from_rfc3339(at.trim())
        .map(|t| t.timestamp())
        .with_context(|| {
            format!("{flag} `{at}` is not a time like 2026-11-25T14:00:00Z or Unix seconds")
        })
}

fn show(d: &Deployment) {
    println!(
        "{:<28} {:<11} {:<11} {} {}  {}",
        d.id,
        d.environment,
        d.status,
        &d.sha[..d.sha.len().min(12)],
        chrono::DateTime::from_timestamp(d.created_at, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        if d.contents == "exact" {
            ""
        } else {
            "(contents unknown: sha not in the clone yet)"
        }
    );
}

pub async fn run(settings: &Settings, cmd: &DeployCmd) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    match cmd {
        DeployCmd::Record {
            env,
            sha,
            status,
            at,
            repo,
            id,
            json,
        } => {
            // The repos must be known (and their commits read) to resolve the sha.
            flightdeck_core::ingest::run(&store, &settings.sources(), None, now).await?;
            let r = Record {
                repo: repo.clone(),
                environment: env.clone(),
                sha: sha.clone(),
                status: status.clone(),
                at: at.as_deref().map(parse_at).transpose()?,
                id: id.clone(),
            };
            let d = deploys::record(&store, &r, "cli", now).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                show(&d);
            }
        }
        DeployCmd::List { env, json } => {
            let list: Vec<Deployment> = store
                .deployments()
                .await?
                .into_iter()
                .filter(|d| env.as_ref().is_none_or(|e| d.environment == *e))
                .collect();
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no deploys yet; `flightdeck deploy record --env production --sha SHA --status success` adds one");
            } else {
                list.iter().for_each(show);
            }
        }
        DeployCmd::Show { id, json } => {
            let Some(d) = deploys::detail(&store, id, Some(&settings.policy_file)).await? else {
                bail!("no deploy `{id}`; `flightdeck deploy list` shows them");
            };
            if *json {
                println!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(ExitCode::SUCCESS);
            }
            show(&d.deployment);
            match &d.previous {
                Some(p) => println!("since {} ({})", p.id, &p.sha[..p.sha.len().min(12)]),
                None => println!("the first successful deploy there: all history"),
            }
            for c in &d.commits {
                println!(
                    "  {} {:<10} {}",
                    &c.sha[..12],
                    c.agent.as_deref().unwrap_or("human"),
                    c.summary
                );
            }
            for c in &d.changes {
                let who = match &c.change.author {
                    flightdeck_core::model::Author::Agent { agent } => format!("agent {agent}"),
                    flightdeck_core::model::Author::Human { name } => name.clone(),
                };
                let reviews: Vec<String> = c
                    .reviews
                    .iter()
                    .map(|r| format!("{} {}", r.reviewer, r.state))
                    .collect();
                let failing = c.checks.iter().filter(|k| k.failed()).count();
                let verdict = match (&c.verdict, &c.policy_error) {
                    (Some(v), _) if v.pass => "policy: pass".to_string(),
                    (Some(v), _) => format!(
                        "policy: blocked ({})",
                        v.reasons
                            .iter()
                            .filter(|r| !r.ok)
                            .map(|r| r.message.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    (None, Some(e)) => format!("policy: not judged ({e})"),
                    (None, None) => "policy: not judged".into(),
                };
                println!(
                    "  change {} \"{}\" by {who}; reviews: {}; checks: {} of {} failing; agent cost ${:.2}; {verdict}",
                    c.change.id,
                    c.change.title,
                    if reviews.is_empty() { "none".into() } else { reviews.join(", ") },
                    failing,
                    c.checks.len(),
                    c.change.agent_cost_usd,
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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
    let today = flightdeck_core::days::start_of(&flightdeck_core::days::of(now)).unwrap_or(now);
    let until = match checked_day("--until", until)? {
        Some(d) => flightdeck_core::days::start_of(d).unwrap_or(today) + 86_400,
        None => today + 86_400,
    };
    let since = match checked_day("--since", since)? {
        Some(d) => flightdeck_core::days::start_of(d).unwrap_or(until - 28 * 86_400),
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
    let store = Store::open(&settings.database_url).await?;
    let (_, until) = range(&None, &a.until, chrono::Utc::now().timestamp())?;
    let html = flightdeck_server::report::weekly_html(&store, until, a.weeks).await?;
    std::fs::write(&a.out, html)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    println!("wrote {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Agent vs human acceptance, rework (changes requested; reverted after merging) and cost per
/// merged change, and review load.
pub async fn velocity_report(settings: &Settings, a: &PeriodArgs) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let (since, until) = range(&a.since, &a.until, chrono::Utc::now().timestamp())?;
    let v = flightdeck_core::velocity::report(&store, since, until).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
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
    let both = |s: &flightdeck_core::spans::Spread| {
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
        println!("{}", head.join(","));
        rows.iter().for_each(|r| println!("{}", r.join(",")));
        // A second table: each phase's median and 90th percentile in seconds.
        println!("\nphase,changes,all_median_secs,all_p90_secs,agent_median_secs,agent_p90_secs,human_median_secs,human_p90_secs");
        let s = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
        for p in &v.cycle.phases {
            println!(
                "{},{},{},{},{},{},{},{}",
                p.name,
                p.all.count,
                s(p.all.median_secs),
                s(p.all.p90_secs),
                s(p.agent.median_secs),
                s(p.agent.p90_secs),
                s(p.human.median_secs),
                s(p.human.p90_secs)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.md {
        println!("| {} |\n|{}", head.join(" | "), "---|".repeat(head.len()));
        rows.iter().for_each(|r| println!("| {} |", r.join(" | ")));
        println!("\ncycle time of the changes merged in the range, median / p90:\n");
        println!(
            "| {} |\n|{}",
            phase_head.join(" | "),
            "---|".repeat(phase_head.len())
        );
        phases
            .iter()
            .for_each(|r| println!("| {} |", r.join(" | ")));
    } else {
        for r in std::iter::once(head.map(String::from)).chain(rows) {
            println!(
                "{:<6} {:>7} {:>7} {:>7} {:>11} {:>13} {:>12}",
                r[0], r[1], r[2], r[3], r[4], r[5], r[6]
            );
        }
        println!("\ncycle time of the changes merged in the range, median / p90:");
        for r in std::iter::once(phase_head.map(String::from)).chain(phases) {
            println!(
                "  {:<7} {:>7} {:>17} {:>17} {:>17}",
                r[0], r[1], r[2], r[3], r[4]
            );
        }
    }
    println!("\nmerged per week (agents / people):");
    for w in &v.cycle.throughput {
        println!("  {}  {:>4} / {}", w.week, w.agent, w.human);
    }
    println!("\nreview load (reviews given in the range; open requests waiting):");
    for r in &v.reviewers {
        println!(
            "  {:<20} {:>3} reviews ({} approved, {} changes requested), {} waiting",
            r.reviewer, r.reviews, r.approvals, r.changes_requested, r.waiting
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn dora_report(settings: &Settings, a: &DoraArgs) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    let (since, until) = range(&a.period.since, &a.period.until, now)?;
    let repo = match &a.repo {
        Some(want) => match store.repo_named(want).await? {
            Some(r) => Some(r.path),
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
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = rows(&d);
    if a.period.csv {
        println!("metric,value,cases");
        for (m, v, c) in rows {
            println!("{m},{v},{c}");
        }
    } else if a.period.md {
        println!(
            "| metric | value | cases |\n|---|---|---|\n{}",
            rows.iter()
                .map(|(m, v, c)| format!("| {m} | {v} | {c} |"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    } else {
        println!(
            "DORA for `{}` from {} to {} (definitions: `flightdeck report dora --help`, README)",
            d.production,
            flightdeck_core::days::of(since),
            flightdeck_core::days::of(until - 1)
        );
        for (m, v, c) in rows {
            println!("  {m:<32} {v:>10}  {c}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum ReleaseCmd {
    /// Releases, newest first, with their state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A release: every commit and change it holds over what is deployed, risk signals.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending release: signed in the audit log now; a GitHub run waiting on the
    /// environment is approved through the outbox (now if online, else when it is).
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
        /// Also make a signed annotated tag named after the release at its commit.
        #[arg(long)]
        tag: bool,
        #[arg(long)]
        json: bool,
    },
    /// Reject a pending release (a reason is needed); as approve.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Check a release tag's signed approval (this machine's key is trusted; add others with
    /// --trust).
    VerifyTag {
        name: String,
        /// The repo (path or name); needed when several are watched.
        #[arg(long)]
        repo: Option<String>,
        /// A public key (hex) to trust besides this machine's.
        #[arg(long)]
        trust: Vec<String>,
    },
}

pub async fn release(settings: &Settings, cmd: &ReleaseCmd) -> Result<ExitCode> {
    use flightdeck_core::releases;
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    match cmd {
        ReleaseCmd::List { json } => {
            let list = store.releases().await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no releases yet");
            }
            if !*json {
                for r in &list {
                    println!(
                        "{:<28} {:<10} {:<9} {:<11} {}",
                        r.id,
                        r.name,
                        r.state,
                        r.environment,
                        r.approved_by.as_deref().unwrap_or("")
                    );
                }
            }
        }
        ReleaseCmd::Show { id, json } => {
            let d = releases::detail(&store, id).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{} {} for {} ({}): {} commits over {}",
                d.release.name,
                d.release.state,
                d.release.environment,
                d.release.id,
                d.commits.len(),
                d.since
                    .as_deref()
                    .map_or("nothing deployed", |s| &s[..s.len().min(12)])
            );
            for c in &d.commits {
                println!(
                    "  {} {:<10} {}",
                    &c.sha[..c.sha.len().min(12)],
                    c.agent.as_deref().unwrap_or("human"),
                    c.summary
                );
            }
            for c in &d.changes {
                println!(
                    "  change {} ({}) {}",
                    c.id,
                    c.author_kind,
                    c.signals.join("; ")
                );
            }
            for s in &d.signals {
                println!("  ! {s}");
            }
            if d.clear {
                println!("  no risk signals");
            }
        }
        ReleaseCmd::VerifyTag { name, repo, trust } => {
            let path = deploys::pick_repo(&store, repo.as_deref()).await?.path;
            let key = flightdeck_core::audit::AuditKey::load_or_create(
                &crate::audit_cmd::key_path(settings),
            )?;
            let mut trusted = trust.clone();
            trusted.push(key.public_hex());
            match releases::verify_tag(std::path::Path::new(&path), name, &trusted) {
                Ok(statement) => println!("ok: {statement}"),
                Err(why) => bail!("tag {name}: {why}"),
            }
        }
        ReleaseCmd::Approve {
            id, reason, json, ..
        }
        | ReleaseCmd::Reject { id, reason, json } => {
            let approve = matches!(cmd, ReleaseCmd::Approve { .. });
            let tag = matches!(cmd, ReleaseCmd::Approve { tag: true, .. });
            let key = flightdeck_core::audit::AuditKey::load_or_create(
                &crate::audit_cmd::key_path(settings),
            )?;
            let actor = flightdeck_core::outbox::lead_identity().0;
            let release = store.releases().await?.into_iter().find(|r| r.id == *id);
            // The repo's owner/name on GitHub, from its origin remote.
            let github = match &release {
                Some(r) => {
                    flightdeck_core::github::full_name_of(&store, &r.repo, &settings.github_api_url)
                        .await?
                }
                None => None,
            };
            let r = releases::decide(
                &store,
                &key,
                &actor,
                id,
                approve,
                reason,
                github.as_deref(),
                now,
            )
            .await?;
            // Send it now if GitHub answers; else it waits in the outbox.
            if r.run_id.is_some() && github.is_some() {
                let appliers = crate::review_cmd::appliers(settings, &store)?;
                let rep = flightdeck_core::outbox::sync(&store, &appliers, &key, now).await?;
                if !*json {
                    if rep.applied + rep.confirmed > 0 {
                        println!("GitHub: the waiting run was reviewed");
                    } else {
                        println!("GitHub did not answer: queued; `flightdeck sync` sends it later");
                    }
                }
            }
            if tag {
                let (name, email) = flightdeck_core::outbox::lead_identity();
                let t = releases::tag_release(
                    std::path::Path::new(&r.repo),
                    &r,
                    &key,
                    (&name, &email),
                )?;
                if !*json {
                    println!("tagged {t} (signed; `flightdeck release verify-tag {t}`)");
                }
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "{} {} by {} (signed in the audit log: `flightdeck audit verify`)",
                    r.name, r.state, actor
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
