//! `flightdeck changes | approve | request-changes | comment | merge | close | sync | outbox`: the review
//! loop from a terminal. Every decision goes through the outbox (queued, then applied at once
//! when possible) and into the signed audit log; a merge the policy refuses needs `--override`
//! with a written reason.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use flightdeck_app::work::Launch;
use flightdeck_app::{review, AppError, Lead};
use flightdeck_core::config::Settings;
use flightdeck_core::domain::outbox::{self, Decide, DecideError};
use flightdeck_core::model::events::EventBus;
use flightdeck_core::model::{ActionState, Author, ChangeRequest, ChangeState};
use flightdeck_core::store::Store;
use flightdeck_core::views;

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
    #[arg(long, conflicts_with = "rebase")]
    pub squash: bool,
    /// The branch's commits replayed on the base, no merge commit.
    #[arg(long)]
    pub rebase: bool,
    /// Merge although the policy says no; the reason is kept in the audit log.
    #[arg(long = "override", value_name = "REASON")]
    pub override_reason: Option<String>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub async fn list(settings: &Settings, json: bool) -> Result<ExitCode> {
    let store = Store::open_existing(&settings.database_url).await?;
    let view = views::changes(&store, Some(&settings.policy_file)).await?;
    let open: Vec<_> = view
        .changes
        .into_iter()
        .filter(|r| r.change.state == ChangeState::Open)
        .collect();
    if json {
        outln!("{}", serde_json::to_string_pretty(&open)?);
        return Ok(ExitCode::SUCCESS);
    }
    if open.is_empty() {
        outln!("no open change requests");
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
        outln!(
            "{}  {}\n    {} · {who} · {} commits {} · ${:.2} agent · {verdict}",
            c.id,
            c.title,
            c.head,
            c.commits,
            c.lines_text(),
            c.agent_cost_usd
        );
        if let Some(v) = &row.verdict {
            for r in v.reasons.iter().filter(|r| !r.ok) {
                outln!("      ✗ {}", r.message);
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
        .filter(|c| c.state == ChangeState::Open && c.id.contains(arg))
        .collect();
    // None open: one merged or closed is still the one meant (another lead may have just
    // merged it); deciding on it then says why it cannot be decided, and by whom.
    let decided: Vec<&ChangeRequest> = all
        .iter()
        .filter(|c| c.state != ChangeState::Open && c.id.contains(arg))
        .collect();
    match (matches.as_slice(), decided.as_slice()) {
        ([one], _) | ([], [one]) => Ok((*one).clone()),
        ([], _) => {
            bail!("no open change request matches `{arg}`; `flightdeck changes` lists them")
        }
        (many, _) => bail!(
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
    lead: &Lead,
    kind: &str,
    change: &ChangeArg,
    comment: Option<String>,
    merge: Option<&MergeArgs>,
) -> Result<ExitCode> {
    let d = Decide {
        kind: kind.into(),
        comment,
        method: merge.map(|m| {
            match (m.squash, m.rebase) {
                (true, _) => "squash",
                (_, true) => "rebase",
                _ => "merge",
            }
            .to_string()
        }),
        override_reason: merge.and_then(|m| m.override_reason.clone()),
        send_back: None,
        head_sha: None,
        idempotency_key: None,
        ..Default::default()
    };
    decide(settings, lead, change, &d)
        .await
        .map(|_| ExitCode::SUCCESS)
}

/// `request-changes`: the decision, and with `--send-back AGENT` the agent's new run on the
/// same branch, in the foreground (its output printed; Ctrl-C cancels it).
pub async fn request_changes(
    settings: &Settings,
    lead: &Lead,
    change: &ChangeArg,
    comment: &str,
    send_back: Option<&str>,
) -> Result<ExitCode> {
    let d = Decide {
        kind: "request_changes".into(),
        comment: Some(comment.to_string()),
        send_back: send_back.map(str::to_string),
        ..Default::default()
    };
    let (store, decided) = decide(settings, lead, change, &d).await?;
    match decided.dispatch {
        Some(queued) => crate::work_cmd::run_dispatch(&store, lead, &queued, false).await,
        None => Ok(ExitCode::SUCCESS),
    }
}

/// One decision through the app layer (the one the UI's buttons use), reported on a line.
async fn decide(
    settings: &Settings,
    lead: &Lead,
    change: &ChangeArg,
    d: &Decide,
) -> Result<(Store, review::Decided)> {
    let store = Store::open(&settings.database_url).await?;
    let c = find(&store, &change.id).await?;
    let kind = &d.kind;
    // Nobody here listens to this bus (the CLI's views are its printed lines); what it
    // carries goes to the team's other instances on a shared PostgreSQL.
    let bus = EventBus::new();
    let mut published = bus.outbound();
    let decided = review::decide(lead, &store, &bus, &c.id, d, Launch::Queued, now())
        .await
        .map_err(|e| match e {
            AppError::Decide(e @ DecideError::Refused { .. }) => {
                anyhow::anyhow!(
                    "{}",
                    e.to_string()
                        .replace("an override reason", "--override \"why\"")
                )
            }
            other => other.into(),
        })?;
    crate::tell_others(&store, &mut published).await;
    let a = &decided.action;
    match a.state {
        ActionState::Applied => outln!(
            "{kind}: {} — {}",
            c.id,
            a.result.as_deref().unwrap_or_default()
        ),
        ActionState::Failed => bail!(
            "{kind} of {} failed: {}",
            c.id,
            a.last_error.as_deref().unwrap_or_default()
        ),
        _ => outln!(
            "{kind}: {} — queued ({}); a running Flightdeck or `flightdeck sync` sends it",
            c.id,
            a.last_error.as_deref().unwrap_or("waiting")
        ),
    }
    Ok((store, decided))
}

pub async fn sync(settings: &Settings, lead: &Lead) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let key = lead.key()?;
    let applier = lead.appliers(&store)?;
    let r = outbox::sync_with(&store, &applier, &key, &applier.reach, now()).await?;
    outln!(
        "sync: {} applied, {} found already applied, {} waiting to retry, {} failed",
        r.applied,
        r.confirmed,
        r.retrying,
        r.failed
    );
    if r.paused > 0 {
        outln!(
            "sync: {} left queued: their forge did not answer (one was tried, not each)",
            r.paused
        );
    }
    if let Some(forge) = &lead.github {
        let gh = forge.client()?;
        let labels = &settings.incident_labels;
        let s = flightdeck_core::domain::forge_sync::sync_all(
            &gh,
            &store,
            &forge.api_url,
            labels,
            now(),
        )
        .await?;
        if s.repos > 0 {
            outln!(
                "GitHub: {} repos, {} open pull requests; rate limit {}/{}{}",
                s.repos,
                s.open,
                s.rate_remaining,
                s.rate_limit,
                s.error.map(|e| format!("; {e}")).unwrap_or_default()
            );
        }
    }
    Ok(if r.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn outbox_list(settings: &Settings, json: bool) -> Result<ExitCode> {
    let store = Store::open_existing(&settings.database_url).await?;
    let actions = store.actions().await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&actions)?);
        return Ok(ExitCode::SUCCESS);
    }
    if actions.is_empty() {
        outln!("the outbox is empty");
    }
    for a in &actions {
        let detail = match a.state {
            ActionState::Applied => a.result.clone().unwrap_or_default(),
            _ => a.last_error.clone().unwrap_or_default(),
        };
        outln!(
            "{}  {:<9} {:<16} {}  by {} · {} attempt{} · {detail}",
            a.idempotency_key.get(..8).unwrap_or(&a.idempotency_key),
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

/// `flightdeck outbox --retry KEY | --dismiss KEY`: a failed action, named by its key or the
/// first characters of it (as `outbox` lists them).
pub async fn outbox_resolve(
    settings: &Settings,
    lead: &Lead,
    prefix: &str,
    how: outbox::Resolve,
) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let matching: Vec<String> = store
        .actions()
        .await?
        .into_iter()
        .map(|a| a.idempotency_key)
        .filter(|k| !prefix.is_empty() && k.starts_with(prefix))
        .collect();
    let action_key = match matching.as_slice() {
        [one] => one.clone(),
        [] => bail!("no action `{prefix}` in the outbox; `flightdeck outbox` lists them"),
        many => bail!(
            "`{prefix}` is the start of {} actions' keys; give more of it",
            many.len()
        ),
    };
    let bus = EventBus::new();
    let mut published = bus.outbound();
    let a = review::resolve(lead, &store, &bus, &action_key, how, now()).await?;
    crate::tell_others(&store, &mut published).await;
    let detail = match a.state {
        ActionState::Applied => a.result.unwrap_or_default(),
        _ => a.last_error.unwrap_or_default(),
    };
    outln!("{} {}: {} — {detail}", a.kind, a.state, a.target);
    Ok(if a.state == ActionState::Failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
