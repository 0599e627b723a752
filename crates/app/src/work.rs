//! Dispatching work to agents, for every front end: which agent a work item goes to, queueing
//! it, and starting it in the background (a server, the desktop) or leaving the caller to run
//! it in the foreground (the CLI, which prints the agent's output as it comes).

use flightdeck_core::domain::dispatch::Dispatcher;
use flightdeck_core::model::events::{Event, EventBus};
use flightdeck_core::model::Dispatch;
use flightdeck_core::store::Store;

use crate::{AppError, Lead};

/// How a queued dispatch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// In a background task of this process, once the agent has a free slot.
    Background,
    /// Not here: the caller runs it (`Dispatcher::run`), or a runtime resumes it later.
    Queued,
}

/// The agent work item `id` goes to: `agent` when given, else its assignee when that is one.
pub async fn agent_for(store: &Store, id: &str, agent: Option<&str>) -> Result<String, AppError> {
    match agent {
        Some(a) => Ok(a.to_string()),
        None => flightdeck_core::domain::work::assigned_agent(&flightdeck_core::domain::work::find(store, id).await?)
            .ok_or_else(|| {
                AppError::Invalid(format!(
                    "work item {id} is not assigned to an agent: name one (`--agent` in the CLI, \"agent\" in the API)"
                ))
            }),
    }
}

/// Queues work item `id` for `agent` (or its assigned agent) as `lead`, and starts it as
/// `launch` says. Returns the queued dispatch.
pub async fn dispatch(
    lead: &Lead,
    store: &Store,
    bus: &EventBus,
    id: &str,
    agent: Option<&str>,
    launch: Launch,
    now: i64,
) -> Result<Dispatch, AppError> {
    let agent = agent_for(store, id, agent).await?;
    let dispatcher = lead.dispatcher(store, Some(bus)).await?;
    let queued = dispatcher.start(id, &agent, now).await?;
    start_as(&dispatcher, &queued, launch);
    publish_work(bus);
    Ok(queued)
}

pub(crate) fn start_as(dispatcher: &Dispatcher, queued: &Dispatch, launch: Launch) {
    if launch == Launch::Background {
        dispatcher.spawn(&queued.id);
    }
}

/// The work board, agents' slots and the audit log refresh.
pub fn publish_work(bus: &EventBus) {
    bus.publish(Event::Changed {
        source: "work".into(),
        topics: ["work", "audit", "changes"].map(String::from).to_vec(),
    });
}
