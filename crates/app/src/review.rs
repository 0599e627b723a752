//! Deciding on change requests, for every front end: approve, request changes (and send the
//! comments back to an agent), comment, merge, close; retrying or dismissing a failed action.
//! Each decision is queued in the outbox and signed in the audit log by `core::outbox`; this
//! module adds what a decision sets in motion around it — the agent sent back to work, and the
//! views told to refresh.

use flightdeck_core::domain::outbox::{self, Decide, Resolve};
use flightdeck_core::forge::diff::{self, ChangeDiff};
use flightdeck_core::forge::github::{self, GitHubError};
use flightdeck_core::model::events::{Event, EventBus};
use flightdeck_core::model::{Action, Dispatch};
use flightdeck_core::store::Store;

use crate::work::{self, Launch};
use crate::{AppError, Lead};

/// A decision as queued, and the dispatch it sent back to an agent, if it did.
#[derive(Debug, serde::Serialize)]
pub struct Decided {
    #[serde(flatten)]
    pub action: Action,
    pub dispatch: Option<Dispatch>,
}

/// Decides `d` on change request `id` as `lead`: checked against the policy, queued, applied
/// now when it can be, audited. With `send_back`, the agent gets the comments and the diff as
/// its next prompt on the same branch, started as `launch` says.
pub async fn decide(
    lead: &Lead,
    store: &Store,
    bus: &EventBus,
    id: &str,
    d: &Decide,
    launch: Launch,
    now: i64,
) -> Result<Decided, AppError> {
    // Refuse a bad send-back before anything is decided, so nothing half happens.
    if let Some(agent) = &d.send_back {
        if d.kind != "request_changes" {
            return Err(AppError::Invalid(
                "send_back goes with request_changes only".into(),
            ));
        }
        if !lead.agents.contains_key(agent) {
            return Err(
                flightdeck_core::domain::dispatch::unknown_agent(agent, &lead.agents).into(),
            );
        }
    }
    let key = lead.key()?;
    let appliers = lead.appliers(store)?;
    let action = outbox::decide(
        store,
        &key,
        &appliers,
        &lead.policy_file,
        id,
        d,
        lead.acting(),
        now,
    )
    .await?;
    publish_decision(bus);
    let dispatch = match &d.send_back {
        Some(agent) => {
            let change = store
                .change_request(id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no change request `{id}`")))?;
            let dispatcher = lead.dispatcher(store, Some(bus)).await?;
            let comments = d.comment.clone().unwrap_or_default();
            let queued = dispatcher.send_back(&change, &comments, agent, now).await?;
            work::start_as(&dispatcher, &queued, launch);
            work::publish_work(bus);
            Some(queued)
        }
        None => None,
    };
    Ok(Decided { action, dispatch })
}

/// Sends a failed action again (after its cause was fixed) or lets it go.
pub async fn resolve(
    lead: &Lead,
    store: &Store,
    bus: &EventBus,
    action_key: &str,
    how: Resolve,
    now: i64,
) -> Result<Action, AppError> {
    let key = lead.key()?;
    let appliers = lead.appliers(store)?;
    let a = outbox::resolve(store, &key, &appliers, action_key, how, lead.acting(), now).await?;
    publish_decision(bus);
    Ok(a)
}

/// How long a review page waits on GitHub for a diff it has not stored; past that it shows what
/// it has. The sync stores every open pull request's files, so this wait is the exception.
pub const LIVE_DIFF_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Page `page` of a change request's diff, for its review page. A local branch's is worked out
/// from the clone. A pull request's are the files the last sync stored when they are of its
/// current head; otherwise GitHub is asked (unless it was found unreachable lately) and the
/// answer kept; when GitHub cannot answer, the stored files are shown with when they were
/// fetched and why (`note`), and the head they are of, which an approval then names. Without
/// a lead (a read-only server) only what is stored is shown.
pub async fn change_diff(
    lead: Option<&Lead>,
    store: &Store,
    id: &str,
    page: usize,
    now: i64,
) -> Result<ChangeDiff, AppError> {
    let change = store
        .change_request(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no change request `{id}`")))?;
    let Some((full_name, number)) = github::parse_change_id(id) else {
        return flightdeck_core::views::change_diff(store, id, page)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no change request `{id}`")));
    };
    let stored = diff::stored_files(store, id).await?;
    if let Some((head, at, files)) = &stored {
        if *head == change.head_sha {
            return Ok(ChangeDiff::paged(files.clone(), head, page, Some(*at)));
        }
    }
    let fallback = |why: String| match &stored {
        Some((head, at, files)) => {
            let mut d = ChangeDiff::paged(files.clone(), head, page, Some(*at));
            d.note = Some(why);
            Ok(d)
        }
        None => Err(AppError::Unavailable(format!(
            "{why}; no copy of this diff is stored yet (the next sync keeps one)"
        ))),
    };
    let Some((lead, access)) = lead.and_then(|l| Some((l, l.github.as_ref()?))) else {
        return fallback("no GitHub is configured here".into());
    };
    let gh = match access.client() {
        Ok(gh) => gh,
        Err(e) => return fallback(format!("no GitHub client ({e})")),
    };
    let host = gh.base().to_string();
    if let Some(until) = lead.reach.paused_until(&host, now) {
        return fallback(format!(
            "GitHub did not answer lately (asked again after {})",
            clock(until)
        ));
    }
    if lead.reach.avoid_inline(&host, now) {
        return fallback("GitHub was slow to answer lately".into());
    }
    match tokio::time::timeout(LIVE_DIFF_WAIT, github::pr_files(&gh, full_name, number)).await {
        Ok(Ok(files)) => {
            lead.reach.reachable(&host);
            diff::store_files(store, id, &change.head_sha, now, &files).await?;
            Ok(ChangeDiff::paged(files, &change.head_sha, page, Some(now)))
        }
        Ok(Err(e @ GitHubError::Unreachable { .. })) => {
            lead.reach.unreachable(&host, now);
            fallback(format!("GitHub cannot be reached ({e})"))
        }
        Ok(Err(e)) => fallback(format!("GitHub answered with an error ({e})")),
        Err(_) => {
            // Slow, not down: views stop waiting on it for a while; the outbox still sends.
            lead.reach.slow(&host, now);
            fallback(format!(
                "GitHub did not answer within {} s",
                LIVE_DIFF_WAIT.as_secs()
            ))
        }
    }
}

/// `HH:MM UTC` of a timestamp, for a note.
fn clock(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%H:%M UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// Views that show reviews, verdicts, the outbox and the audit log refresh.
pub fn publish_decision(bus: &EventBus) {
    bus.publish(Event::Changed {
        source: "actions".into(),
        topics: ["changes", "inbox", "audit", "outbox"]
            .map(String::from)
            .to_vec(),
    });
}
