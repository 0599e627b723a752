//! Deciding on change requests, for every front end: approve, request changes (and send the
//! comments back to an agent), comment, merge, close; retrying or dismissing a failed action.
//! Each decision is queued in the outbox and signed in the audit log by `core::outbox`; this
//! module adds what a decision sets in motion around it — the agent sent back to work, and the
//! views told to refresh.

use flightdeck_core::domain::outbox::{self, Decide, Resolve};
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
    let action = outbox::decide(store, &key, &appliers, &lead.policy_file, id, d, now).await?;
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
    let a = outbox::resolve(store, &key, &appliers, action_key, how, now).await?;
    publish_decision(bus);
    Ok(a)
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
