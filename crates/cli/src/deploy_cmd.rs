//! `flightdeck deploy record | list | show`: deploys from any pipeline, with what each shipped.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use flightdeck_core::config::Settings;
use flightdeck_core::domain::deploys::{self, Record};
use flightdeck_core::model::Deployment;
use flightdeck_core::store::Store;

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

pub(crate) fn parse_at(at: &str) -> Result<i64> {
    parse_time("--at", at)
}

/// A time given as `flag`: Unix seconds or RFC 3339.
pub(crate) fn parse_time(flag: &str, at: &str) -> Result<i64> {
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
    outln!(
        "{:<28} {:<11} {:<11} {} {}  {}",
        d.id,
        d.environment,
        d.status,
        &d.sha[..d.sha.len().min(12)],
        chrono::DateTime::from_timestamp(d.created_at, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        if d.contents == flightdeck_core::model::Contents::Exact {
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
            flightdeck_core::domain::ingest::run(&store, &settings.sources(), None, now).await?;
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
                outln!("{}", serde_json::to_string_pretty(&d)?);
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
                outln!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                outln!("no deploys yet; `flightdeck deploy record --env production --sha SHA --status success` adds one");
            } else {
                list.iter().for_each(show);
            }
        }
        DeployCmd::Show { id, json } => {
            let Some(d) = deploys::detail(&store, id, Some(&settings.policy_file)).await? else {
                bail!("no deploy `{id}`; `flightdeck deploy list` shows them");
            };
            if *json {
                outln!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(ExitCode::SUCCESS);
            }
            show(&d.deployment);
            match &d.previous {
                Some(p) => outln!("since {} ({})", p.id, &p.sha[..p.sha.len().min(12)]),
                None => outln!("the first successful deploy there: all history"),
            }
            for c in &d.commits {
                outln!(
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
                outln!(
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
