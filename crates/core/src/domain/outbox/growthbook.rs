//! The outbox's applier for GrowthBook: an experiment decided here is stopped there, with the
//! shipped variation rolled out to everyone, exactly once. The stop's analysis carries the
//! action's key (`marker`), so a stop tried before is looked up and found done only when
//! GrowthBook holds *this* stop: an experiment someone else stopped meanwhile is stopped again
//! with this decision, not taken as it.

use crate::domain::actions::{Applier, Checked, Outcome, Payload};
use crate::model::{Action, ActionKind};
use crate::sources::growthbook::{GrowthBookApi, GrowthBookError};

pub struct GrowthBookApplier {
    pub api: GrowthBookApi,
}

fn outcome_of(e: GrowthBookError) -> Outcome {
    match e {
        GrowthBookError::Network { .. } => Outcome::Unreachable(e.to_string()),
        e if e.passing() => Outcome::Retry(e.to_string()),
        e => Outcome::Failed(e.to_string()),
    }
}

/// The analysis GrowthBook is sent: the lead's words, then the action's marker.
fn analysis(a: &Action, p: &Payload) -> String {
    format!(
        "{}\n\n{}",
        p.body.as_deref().unwrap_or_default(),
        crate::domain::outbox::marker(&a.idempotency_key)
    )
}

impl Applier for GrowthBookApplier {
    async fn check(&self, a: &Action, p: &Payload) -> Checked {
        let Some(id) = p
            .experiment
            .as_deref()
            .filter(|_| a.kind == ActionKind::ExperimentStop)
        else {
            return Checked::Unknown(format!("{} is not sent to GrowthBook", a.kind));
        };
        let marker = crate::domain::outbox::marker(&a.idempotency_key);
        match self.api.experiment(id).await {
            Ok(Some(e))
                if e["status"].as_str() == Some("stopped")
                    && e["resultSummary"]["conclusions"]
                        .as_str()
                        .is_some_and(|c| c.contains(&marker)) =>
            {
                Checked::Done(format!(
                    "GrowthBook shows {id} stopped by this decision{}",
                    e["resultSummary"]["releasedVariationId"]
                        .as_str()
                        .filter(|v| !v.is_empty())
                        .map(|v| format!(", {v} released"))
                        .unwrap_or_default()
                ))
            }
            Ok(Some(_)) => Checked::NotDone,
            Ok(None) => Checked::Unknown(format!("GrowthBook has no experiment {id}")),
            Err(e @ GrowthBookError::Network { .. }) => Checked::Unreachable(e.to_string()),
            Err(e) => Checked::Unknown(e.to_string()),
        }
    }

    async fn apply(&self, a: &Action, p: &Payload) -> Outcome {
        let (Some(id), ActionKind::ExperimentStop) = (p.experiment.as_deref(), a.kind) else {
            return Outcome::Failed(format!("{} is not sent to GrowthBook", a.kind));
        };
        let results = p.results.as_deref().unwrap_or("inconclusive");
        match self
            .api
            .stop(id, results, p.release.as_deref(), &analysis(a, p))
            .await
        {
            Ok(Some(_)) => Outcome::Applied(format!(
                "stopped {id} in GrowthBook ({results}){}",
                p.release
                    .as_deref()
                    .map(|v| format!(", {v} rolled out"))
                    .unwrap_or_default()
            )),
            Ok(None) => Outcome::Failed(format!(
                "GrowthBook has no experiment {id} (or no stop endpoint: it needs a GrowthBook \
                 with POST /api/v1/experiments/{{id}}/stop)"
            )),
            // It answered 2xx with a body that could not be read: applied, most likely;
            // the next pass looks before sending again.
            Err(e @ GrowthBookError::Shape { .. }) => Outcome::Retry(e.to_string()),
            Err(e) => outcome_of(e),
        }
    }

    fn host(&self, _a: &Action) -> Option<String> {
        Some(self.api.base().to_string())
    }
}
