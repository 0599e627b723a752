//! Deciding an experiment (ship, stop, iterate), for every front end: signed in the audit log,
//! recorded once across instances, and the views told.

use flightdeck_core::domain::experiments;
use flightdeck_core::model::events::{Event, EventBus};
use flightdeck_core::model::{ExperimentCall, ExperimentDecided};
use flightdeck_core::store::Store;

use crate::{AppError, Lead};

/// Decides experiment `id` as `lead`; `variation` names what ships (default: the winner).
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    lead: &Lead,
    store: &Store,
    bus: &EventBus,
    id: &str,
    call: ExperimentCall,
    variation: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<ExperimentDecided, AppError> {
    let key = lead.key()?;
    let d =
        experiments::decide(store, &key, lead.acting(), id, call, variation, reason, now).await?;
    bus.publish(Event::Changed {
        source: "experiments".into(),
        topics: ["experiments", "audit"].map(String::from).to_vec(),
    });
    Ok(d)
}
