//! Approving or rejecting a release, for every front end: signed in the audit log at once; when
//! a GitHub Actions run waits on the environment, its review is queued in the outbox for the
//! sender (or the next sync) to deliver — so a release can be approved with no network.

use flightdeck_core::domain::releases;
use flightdeck_core::model::events::{Event, EventBus};
use flightdeck_core::model::Release;
use flightdeck_core::store::Store;

use crate::{AppError, Lead};

/// A release as decided, and whether a waiting GitHub run is to hear it (queued in the outbox).
#[derive(Debug)]
pub struct ReleaseDecided {
    pub release: Release,
    pub queued_for_github: bool,
}

/// Decides release `id` as `lead` (`reason` is required to reject), and tells the views. From
/// a paired device, `device` carries its signature of the decision.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    lead: &Lead,
    store: &Store,
    bus: &EventBus,
    id: &str,
    approve: bool,
    reason: &str,
    device: Option<&flightdeck_core::model::device::DeviceDecision>,
    now: i64,
) -> Result<ReleaseDecided, AppError> {
    let release = releases::find(store, id).await?;
    // The repo's owner/name on GitHub, from its origin remote: where a waiting run is told.
    let github = match &lead.github {
        Some(g) => {
            flightdeck_core::forge::github::full_name_of(store, &release.repo, &g.api_url).await?
        }
        None => None,
    };
    let key = lead.key()?;
    let r = releases::decide(
        store,
        &key,
        lead.acting(),
        id,
        approve,
        reason,
        github.as_deref(),
        device,
        now,
    )
    .await?;
    bus.publish(Event::Changed {
        source: "releases".into(),
        topics: ["releases", "audit", "outbox", "inbox"]
            .map(String::from)
            .to_vec(),
    });
    Ok(ReleaseDecided {
        queued_for_github: r.run_id.is_some() && github.is_some(),
        release: r,
    })
}
