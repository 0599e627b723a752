//! `flightdeck changes | approve | request-changes | comment | merge | sync | outbox`: the review
//! loop from a terminal. Every decision goes through the outbox (queued, then applied at once
//! when possible) and into the signed audit log; a merge the policy refuses needs `--override`
//! with a written reason.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use flightdeck_core::audit::{AuditKey, Decision};
use flightdeck_core::config::Settings;
use flightdeck_core::model::{Author, ChangeKind, ChangeRequest};
use flightdeck_core::outbox::{self, LocalApplier, Payload};
use flightdeck_core::policy::{self, PolicyFile};
use flightdeck_core::store::Store;
use flightdeck_core::views;

use crate::audit_cmd;

#[derive(Args)]
pub struct ChangeArg {
    /// The change request: its id, or any unique part of it (e.g. `claude/add-rate-limiting`).
    pub id: String,
}

#[derive(Args)]
pub struct MergeArgs {
    #[command(flatten)]
    pub change: ChangeArg,
    /// One commit with the branch's changes instead of a merge (or fast-forward).
    #[arg(long)]
    pub squash: bool,
    /// Merge although the policy says no; the reason is kept in the audit log.
    #[arg(long = "override", value_name = "REASON")]
    pub override_reason: Option<String>,
}

/// Who acts: `FLIGHTDECK_USER`, else git's `user.name`, else the login name.
fn actor() -> (String, String) {
    let git = git2::Config::open_default().ok();
    let get = |k: &str| git.as_ref().and_then(|c| c.get_string(k).ok());
    let name = std::env::var("FLIGHTDECK_USER")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| get("user.name"))
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "lead".into());
    let email = get("user.email").unwrap_or_else(|| format!("{name}@localhost"));
    (name, email)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub async fn list(settings: &Settings, json: bool) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let view = views::changes(&store, Some(&settings.policy_file)).await?;
    let open: Vec<_> = view
        .changes
        .into_iter()
        .filter(|r| r.change.state == "open")
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&open)?);
        return Ok(ExitCode::SUCCESS);
    }
    if open.is_empty() {
        println!("no open change requests");
    }
    for row in &open {
        let c = &row.change;
        let who = match &c.author {
            Author::Agent { agent } => agent.clone(),
            Author::Human { name } => name.clone(),
        };
        let verdict = match (&row.verdict, &row.policy_error) {
            (Some(v), _) if v.pass => "ready".to_string(),
            (Some(v), _) => format!("blocked ({})", v.reasons.iter().filter(|r| !r.ok).count()),
            (None, Some(e)) => format!("no verdict: {e}"),
            (None, None) => "-".into(),
        };
        println!(
            "{}  {}\n    {} · {who} · {} commits +{} −{} · ${:.2} agent · {verdict}",
            c.id, c.title, c.head, c.commits, c.insertions, c.deletions, c.agent_cost_usd
        );
        if let Some(v) = &row.verdict {
            for r in v.reasons.iter().filter(|r| !r.ok) {
                println!("      ✗ {}", r.message);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The one change request `arg` names.
async fn find(store: &Store, arg: &str) -> Result<ChangeRequest> {
    let all = store.change_requests().await?;
    if let Some(c) = all.iter().find(|c| c.id == arg) {
        return Ok(c.clone());
    }
    let matches: Vec<&ChangeRequest> = all
        .iter()
        .filter(|c| c.state == "open" && c.id.contains(arg))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("no open change request matches `{arg}`; `flightdeck changes` lists them"),
        many => bail!(
            "`{arg}` matches {} change requests: {}; give more of the id",
            many.len(),
            many.iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Queues `kind` on the change, applies what can be applied now, and reports.
pub async fn act(
    settings: &Settings,
    kind: &str,
    change: &ChangeArg,
    body: Option<String>,
    merge: Option<&MergeArgs>,
) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let key = AuditKey::load_or_create(&audit_cmd::key_path(settings))?;
    let c = find(&store, &change.id).await?;
    if c.kind != ChangeKind::Local {
        bail!("{}: GitHub pull requests are not synced yet; only local agent branches can be acted on", c.id);
    }
    if c.state != "open" {
        bail!("{} is {}, not open", c.id, c.state);
    }
    let (name, email) = actor();
    let mut payload = Payload {
        repo: c.repo.clone(),
        head: c.head.clone(),
        base: c.base.clone(),
        sha: c.head_sha.clone(),
        body,
        ..Default::default()
    };
    if let Some(m) = merge {
        payload.method = Some(if m.squash { "squash" } else { "merge" }.into());
        let file = PolicyFile::load(&settings.policy_file)?;
        let verdict = policy::judge_change(&store, &file, &c, now())
            .await
            .map_err(anyhow::Error::msg)?;
        if !verdict.pass {
            let why: Vec<&str> = verdict
                .reasons
                .iter()
                .filter(|r| !r.ok)
                .map(|r| r.message.as_str())
                .collect();
            match m.override_reason.as_deref().map(str::trim) {
                Some(reason) if !reason.is_empty() => {
                    store
                        .append_audit(
                            &key,
                            &Decision {
                                at: now(),
                                actor: &name,
                                action: "override",
                                target: &c.id,
                                detail: &format!(
                                    "merged against policy ({}): {reason}",
                                    why.join("; ")
                                ),
                            },
                        )
                        .await?;
                    payload.override_reason = Some(reason.to_string());
                }
                _ => bail!(
                    "the policy ({}) refuses this merge: {}. Pass --override \"why\" to merge anyway (kept in the audit log)",
                    verdict.policy,
                    why.join("; ")
                ),
            }
        }
    }
    let action = outbox::enqueue(&store, kind, &c.id, &payload, &name, now()).await?;
    let applier = LocalApplier {
        store: store.clone(),
        name,
        email,
    };
    outbox::sync(&store, &applier, &key, now()).await?;
    let done = store
        .actions()
        .await?
        .into_iter()
        .find(|a| a.idempotency_key == action.idempotency_key);
    match done {
        Some(a) if a.state == "applied" => {
            println!("{kind}: {} — {}", c.id, a.result.unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Some(a) if a.state == "failed" => {
            bail!(
                "{kind} of {} failed: {}",
                c.id,
                a.last_error.unwrap_or_default()
            )
        }
        Some(a) => {
            println!(
                "{kind}: {} — queued ({}); `flightdeck sync` sends it",
                c.id,
                a.last_error.unwrap_or_else(|| "waiting".into())
            );
            Ok(ExitCode::SUCCESS)
        }
        None => bail!("the action vanished from the outbox"),
    }
}

pub async fn sync(settings: &Settings) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let key = AuditKey::load_or_create(&audit_cmd::key_path(settings))?;
    let (name, email) = actor();
    let applier = LocalApplier {
        store: store.clone(),
        name,
        email,
    };
    let r = outbox::sync(&store, &applier, &key, now()).await?;
    println!(
        "sync: {} applied, {} found already applied, {} waiting to retry, {} failed",
        r.applied, r.confirmed, r.retrying, r.failed
    );
    Ok(if r.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn outbox_list(settings: &Settings, json: bool) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let actions = store.actions().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&actions)?);
        return Ok(ExitCode::SUCCESS);
    }
    if actions.is_empty() {
        println!("the outbox is empty");
    }
    for a in &actions {
        let detail = match a.state.as_str() {
            "applied" => a.result.clone().unwrap_or_default(),
            _ => a.last_error.clone().unwrap_or_default(),
        };
        println!(
            "{:<8} {:<16} {}  by {} · {} attempt{} · {detail}",
            a.state,
            a.kind,
            a.target,
            a.actor,
            a.attempts,
            if a.attempts == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
