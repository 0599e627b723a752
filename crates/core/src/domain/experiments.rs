//! Experiment results coming in — a file read (`sources::experiment_file`) or a warehouse's
//! queries (`sources::warehouse`) replace what the store holds for that experiment — and the
//! scorecard and decisions on them: the one path the CLI, the server and the desktop use.

use std::path::Path;

use crate::sources::experiment_file::{self, FileError, ImportOptions, Imported};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("an experiment id is needed (letters, digits, `-`, `_`, `.`), not `{0}`")]
    BadId(String),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// Reads `path` (off the async runtime: a file of millions of rows takes seconds) and stores it
/// as experiment `o.experiment`. With no variations given, those the store already has for it
/// are required, so a file naming a variation the experiment lacks is refused.
pub async fn import_file(
    store: &Store,
    path: &Path,
    mut o: ImportOptions,
) -> Result<Imported, ImportError> {
    // Stored as given without its surrounding spaces.
    o.experiment = o.experiment.trim().to_string();
    check_id(&o.experiment)?;
    if o.variations.is_empty() {
        (o.variations, o.weights) = held_to(store, &o.experiment, o.weights).await?;
    }
    let flags: Vec<String> = o
        .flags
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let path = path.to_path_buf();
    let imported = tokio::task::spawn_blocking(move || experiment_file::read(&path, &o))
        .await
        .map_err(|e| crate::Error::Invalid {
            path: "experiment import".into(),
            message: e.to_string(),
        })??;
    keep(store, &imported, flags).await?;
    Ok(imported)
}

/// What a read of experiment `id` that names no variations is held to: the variations stored
/// (control first; none for a new experiment) and, unless `weights` are given, the split it
/// was configured with when every variation has one.
async fn held_to(
    store: &Store,
    id: &str,
    weights: Vec<f64>,
) -> crate::Result<(Vec<String>, Vec<f64>)> {
    let Some(known) = store.experiment(id).await? else {
        return Ok((vec![], weights));
    };
    let names = known.variants.iter().map(|v| v.name.clone()).collect();
    if weights.is_empty() && known.variants.iter().all(|v| v.weight.is_some()) {
        let stored = known.variants.iter().filter_map(|v| v.weight).collect();
        return Ok((names, stored));
    }
    Ok((names, weights))
}

/// Stores an import: the experiment replaced, its origin (a GrowthBook sync's) forgotten, and
/// its keys: its id and `flags` (or the flags it had when none are given).
async fn keep(store: &Store, imported: &Imported, flags: Vec<String>) -> crate::Result<()> {
    store
        .replace_experiment(
            &imported.experiment,
            &imported.metrics,
            &imported.sums,
            &imported.history,
        )
        .await?;
    // The file's data replaces what a GrowthBook sync stored: the experiment is the file's now
    // (the next sync reads GrowthBook's again in full).
    let synced = store
        .experiment_origin(&imported.experiment.id)
        .await?
        .is_some();
    if synced {
        store
            .clear_experiment_origin(&imported.experiment.id)
            .await?;
    }
    if !flags.is_empty() || !synced {
        let mut keys = vec![crate::model::ExperimentKey {
            key: imported.experiment.id.clone(),
            kind: "tracking".into(),
        }];
        let known = store.experiment_keys().await?;
        let kept = known
            .into_iter()
            .filter(|(e, k)| e == &imported.experiment.id && k.kind == "flag")
            .map(|(_, k)| k.key);
        let flags: Vec<String> = if flags.is_empty() {
            kept.collect()
        } else {
            flags
        };
        keys.extend(flags.into_iter().map(|key| crate::model::ExperimentKey {
            key,
            kind: "flag".into(),
        }));
        store
            .set_experiment_keys(&imported.experiment.id, &keys)
            .await?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseImportError {
    #[error(transparent)]
    Spec(#[from] crate::sources::warehouse::SpecError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// Runs the queries of warehouse spec `path` and stores what they return as its experiment,
/// as [`import_file`] stores a file's.
pub async fn import_warehouse(
    store: &Store,
    path: &Path,
) -> Result<Imported, WarehouseImportError> {
    use crate::sources::warehouse::{self, SpecError};
    let spec = warehouse::read_spec(path)?;
    let id = spec.experiment.trim().to_string();
    check_id(&id)?;
    let url = warehouse::url(&spec, path)?;
    let w = crate::store::warehouse::Warehouse::connect(&url)
        .await
        .map_err(|source| SpecError::Connect {
            file: path.into(),
            source,
        })?;
    let mut spec = spec;
    if spec.variations.is_empty() {
        (spec.variations, spec.weights) = held_to(store, &id, spec.weights).await?;
    }
    let imported = warehouse::read(&w, path, &spec, &id).await?;
    keep(store, &imported, spec.flags.clone()).await?;
    Ok(imported)
}

/// An experiment id as stored: letters, digits, `-`, `_`, `.`.
fn check_id(id: &str) -> Result<(), ImportError> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ImportError::BadId(id.to_string()));
    }
    Ok(())
}

/// The scorecard of experiment `id` as of `now`; `None` when there is no such experiment.
pub async fn scorecard(
    store: &Store,
    id: &str,
    now: i64,
) -> crate::Result<Option<crate::stats::scorecard::Scorecard>> {
    let Some(experiment) = store.experiment(id).await? else {
        return Ok(None);
    };
    let metrics = store.experiment_metrics(id).await?;
    let sums = store.metric_sums(id).await?;
    let mut c = crate::stats::scorecard::card(experiment, &metrics, &sums, now);
    c.decision = store.experiment_decision(id).await?;
    Ok(Some(c))
}

/// Experiment `id` with its cumulative lift over time (see `stats::scorecard::cumulative`),
/// or `None` when there is no such experiment.
pub async fn cumulative(
    store: &Store,
    id: &str,
) -> crate::Result<
    Option<(
        crate::model::Experiment,
        Vec<crate::stats::scorecard::LiftSeries>,
    )>,
> {
    let Some(experiment) = store.experiment(id).await? else {
        return Ok(None);
    };
    let metrics = store.experiment_metrics(id).await?;
    let history = store.experiment_history(id).await?;
    let series = crate::stats::scorecard::cumulative(&experiment, &metrics, &history);
    Ok(Some((experiment, series)))
}

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no experiment `{0}`; `flightdeck experiment list` shows them")]
    NotFound(String),
    #[error("experiment {id} was decided already: {call} by {by}")]
    Decided {
        id: String,
        call: String,
        by: String,
    },
    #[error("which variation ships? {0} (give --variation)")]
    NeedsVariation(String),
    #[error("`{0}` is not a variation to ship here; the variations are {1}")]
    NotAVariation(String, String),
    #[error(
        "{0} has a sample-ratio mismatch (p = {1:.2e}): its results are not to be trusted; give a reason to decide anyway"
    )]
    Mismatch(String, f64),
    #[error("{0} breaks guardrail {1}: give a reason to ship it anyway")]
    Guardrail(String, String),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// Decides experiment `id` as `by`: ship (a variation: the one that wins on the primary metric
/// unless named), stop or iterate. Signed in the audit log with what the scorecard said, and
/// recorded once across every instance on the store; the same decision again stands as taken.
/// An experiment with a sample-ratio mismatch needs a reason.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    store: &Store,
    key: &crate::model::audit::AuditKey,
    by: crate::domain::team::Acting<'_>,
    id: &str,
    call: crate::model::ExperimentCall,
    variation: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<crate::model::ExperimentDecided, DecideError> {
    use crate::model::ExperimentCall;
    use crate::stats::scorecard::Outcome;
    let card = scorecard(store, id, now)
        .await?
        .ok_or_else(|| DecideError::NotFound(id.into()))?;
    let actor = by.person.name.clone();
    let reason = reason.trim();
    let others: Vec<&str> = card
        .experiment
        .variants
        .iter()
        .skip(1)
        .map(|v| v.name.as_str())
        .collect();
    let variation = match (call, variation) {
        (ExperimentCall::Ship, Some(v)) if others.contains(&v) => Some(v.to_string()),
        (ExperimentCall::Ship, Some(v)) => {
            return Err(DecideError::NotAVariation(v.into(), others.join(", ")))
        }
        (ExperimentCall::Ship, None) => {
            let primary = card.metrics.iter().find(|m| !m.metric.guardrail);
            let winners: Vec<&str> = primary
                .map(|m| {
                    m.variations
                        .iter()
                        .filter(|v| v.verdict == Outcome::Win)
                        .map(|v| v.variation.as_str())
                        .collect()
                })
                .unwrap_or_default();
            match winners.as_slice() {
                [one] => Some(one.to_string()),
                [] => {
                    return Err(DecideError::NeedsVariation(format!(
                        "none wins yet (variations: {})",
                        others.join(", ")
                    )))
                }
                many => {
                    return Err(DecideError::NeedsVariation(format!(
                        "{} all win",
                        many.join(", ")
                    )))
                }
            }
        }
        (_, _) => None,
    };
    let decided = crate::model::ExperimentDecided {
        call,
        variation,
        by: actor.clone(),
        at: now,
        reason: (!reason.is_empty()).then(|| reason.to_string()),
    };
    if let Some(was) = store.experiment_decision(id).await? {
        if was.call == decided.call && was.variation == decided.variation {
            // Taken already; queued for GrowthBook too unless a crash came in between.
            queue_back(store, &card, &was, now).await;
            return Ok(was);
        }
        return Err(DecideError::Decided {
            id: id.into(),
            call: was.call.as_str().into(),
            by: was.by,
        });
    }
    if card.srm && reason.is_empty() {
        return Err(DecideError::Mismatch(id.into(), card.srm_p_value));
    }
    // Shipping what breaks a guardrail takes a reason, as a broken split does.
    if let (Some(shipped), true) = (&decided.variation, reason.is_empty()) {
        for m in card.metrics.iter().filter(|m| m.metric.guardrail) {
            if m.variations
                .iter()
                .any(|v| &v.variation == shipped && v.verdict == Outcome::GuardrailBreached)
            {
                return Err(DecideError::Guardrail(
                    shipped.clone(),
                    m.metric.name.clone(),
                ));
            }
        }
    }
    if !store.decide_experiment(id, &decided).await? {
        // Another instance decided in between: its decision stands, and it is this one when
        // both said the same.
        let was = store.experiment_decision(id).await?;
        return match was {
            Some(w) if w.call == decided.call && w.variation == decided.variation => {
                queue_back(store, &card, &w, now).await;
                Ok(w)
            }
            was => Err(DecideError::Decided {
                id: id.into(),
                call: was.as_ref().map_or("?", |w| w.call.as_str()).into(),
                by: was.map(|w| w.by).unwrap_or_default(),
            }),
        };
    }
    // What the lead saw: the primary metric's and the guardrails' lift per variation, with
    // the always-valid interval.
    let mut said = Vec::new();
    let primary = card.metrics.iter().position(|m| !m.metric.guardrail);
    for (i, m) in card.metrics.iter().enumerate() {
        if Some(i) != primary && !m.metric.guardrail {
            continue;
        }
        for v in &m.variations {
            if let Some(s) = v.sequential {
                said.push(format!(
                    "{} {} {:+.2}% [{:+.2}%, {:+.2}%] {:?}",
                    m.metric.name,
                    v.variation,
                    s.estimate * 100.0,
                    s.ci.0 * 100.0,
                    s.ci.1 * 100.0,
                    v.verdict
                ));
            }
        }
    }
    let detail = format!(
        "{}{}; {}{}{}",
        call.as_str(),
        decided
            .variation
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
        said.join("; "),
        if card.srm {
            "; sample-ratio mismatch"
        } else {
            ""
        },
        decided
            .reason
            .as_deref()
            .map(|r| format!("; reason: {r}"))
            .unwrap_or_default()
    );
    let signed = store
        .append_audit(
            key,
            &crate::model::audit::Decision {
                at: now,
                actor: &actor,
                action: &format!("experiment {}", call.as_str()),
                target: id,
                detail: &detail,
            },
        )
        .await;
    if let Err(e) = signed {
        // No decision stands unsigned: taken back, to be taken again.
        store.undo_experiment_decision(id, &decided).await?;
        return Err(e.into());
    }
    queue_back(store, &card, &decided, now).await;
    Ok(decided)
}

/// [`send_back`], its failure logged: the decision stands signed either way, and the outbox
/// sender queues what is missing on its next pass ([`queue_unsent`]).
async fn queue_back(
    store: &Store,
    card: &crate::stats::scorecard::Scorecard,
    d: &crate::model::ExperimentDecided,
    now: i64,
) {
    if let Err(e) = send_back(store, card, d, now).await {
        tracing::warn!(
            "experiment {}: not queued for GrowthBook yet: {e}",
            card.experiment.id
        );
    }
}

/// Queues for GrowthBook every decision on a synced experiment that has no action yet (one
/// taken by an instance that stopped before queuing it). Idempotent: the action's key names
/// the experiment and the call.
pub async fn queue_unsent(store: &Store, now: i64) -> crate::Result<usize> {
    let mut queued = 0;
    for (id, call) in store.decided_unsent().await? {
        let Some(card) = scorecard(store, &id, now).await? else {
            continue;
        };
        let Some(d) = card.decision.clone().filter(|d| d.call.as_str() == call) else {
            continue;
        };
        send_back(store, &card, &d, now).await?;
        queued += 1;
    }
    Ok(queued)
}

/// Queues decision `d` for the service the experiment came from (GrowthBook): a ship stops it
/// there with the shipped variation rolled out to everyone, a stop stops it with nothing
/// rolled out; an iterate sends nothing (the next iteration is set up there). The action's key
/// names the experiment and the call, so however often this runs, one stop is queued.
async fn send_back(
    store: &Store,
    card: &crate::stats::scorecard::Scorecard,
    d: &crate::model::ExperimentDecided,
    now: i64,
) -> crate::Result<()> {
    use crate::model::{ActionKind, ExperimentCall};
    use crate::stats::scorecard::Outcome;
    let id = &card.experiment.id;
    let Some(origin) = store.experiment_origin(id).await? else {
        return Ok(());
    };
    if origin.source != "growthbook" || d.call == ExperimentCall::Iterate {
        return Ok(());
    }
    let release = match &d.variation {
        Some(v) => {
            let at = card.experiment.variants.iter().position(|x| &x.name == v);
            match at.and_then(|i| origin.variation_ids.get(i)) {
                Some(vid) => Some(vid.clone()),
                None => {
                    return Err(crate::Error::Invalid {
                        path: format!("experiment {id}").into(),
                        message: format!("GrowthBook's id of variation `{v}` is not known; `flightdeck experiment sync` reads it"),
                    })
                }
            }
        }
        None => None,
    };
    let verdicts: Vec<Outcome> = card
        .metrics
        .iter()
        .find(|m| !m.metric.guardrail)
        .map(|m| m.variations.iter().map(|v| v.verdict).collect())
        .unwrap_or_default();
    let results = match d.call {
        ExperimentCall::Ship => "won",
        _ if !verdicts.is_empty() && verdicts.iter().all(|v| *v == Outcome::Loss) => "lost",
        _ if verdicts.iter().all(|v| *v == Outcome::Flat) => "inconclusive",
        _ => "dnf",
    };
    let payload = crate::domain::actions::Payload {
        experiment: Some(origin.external_id.clone()),
        results: Some(results.into()),
        release,
        body: Some(format!(
            "Decided in Flightdeck by {}: {}{}{}",
            d.by,
            d.call.as_str(),
            d.variation
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            d.reason
                .as_deref()
                .map(|r| format!(". {r}"))
                .unwrap_or_default()
        )),
        ..Default::default()
    };
    let action = crate::domain::actions::new_action(
        ActionKind::ExperimentStop,
        &format!("growthbook:{id}"),
        &payload,
        &d.by,
        Some(&format!("experiment:{id}:{}", d.call.as_str())),
        now,
    )?;
    store.enqueue_action(&action).await?;
    Ok(())
}

/// A guardrail metric significantly worse in a variation of an experiment not decided yet.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Breach {
    pub experiment: String,
    pub name: String,
    pub metric: String,
    pub variation: String,
    /// The always-valid relative lift and its interval.
    pub lift: f64,
    pub ci: (f64, f64),
    /// When the experiment started (the breach is known from then at the latest).
    pub since: i64,
}

impl Breach {
    /// One line: `review_minutes +8.1% [+3.0%, +13.2%] in treatment`.
    pub fn describe(&self) -> String {
        format!(
            "{} {:+.1}% [{:+.1}%, {:+.1}%] in {}",
            self.metric,
            self.lift * 100.0,
            self.ci.0 * 100.0,
            self.ci.1 * 100.0,
            self.variation
        )
    }
}

/// Every guardrail breached now in an experiment not decided yet (a decided one has been
/// weighed already: shipping past a breach took a reason).
pub async fn guardrail_breaches(store: &Store, now: i64) -> crate::Result<Vec<Breach>> {
    use crate::stats::scorecard::Outcome;
    let mut out = Vec::new();
    let guarded = store.guarded_experiments().await?;
    // A few guarded experiments (the usual case) are read one by one by their key; many, with
    // every experiment in four queries.
    let mut to_score = Vec::new();
    if guarded.len() <= 16 {
        for id in &guarded {
            if let Some(e) = store.experiment(id).await? {
                to_score.push((
                    e,
                    store.experiment_metrics(id).await?,
                    store.metric_sums(id).await?,
                ));
            }
        }
    } else {
        let guarded: std::collections::HashSet<&String> = guarded.iter().collect();
        for (e, metrics, sums, _) in store.experiments_to_score().await? {
            if guarded.contains(&e.id) {
                to_score.push((e, metrics, sums));
            }
        }
    }
    for (e, metrics, sums) in to_score {
        let id = e.id.clone();
        let card = crate::stats::scorecard::card(e, &metrics, &sums, now);
        // A broken split's verdicts are not to be trusted, a breach included.
        if card.srm {
            continue;
        }
        for m in card.metrics.iter().filter(|m| m.metric.guardrail) {
            for v in &m.variations {
                let (Outcome::GuardrailBreached, Some(s)) = (v.verdict, v.sequential) else {
                    continue;
                };
                out.push(Breach {
                    experiment: id.clone(),
                    name: card.experiment.name.clone(),
                    metric: m.metric.name.clone(),
                    variation: v.variation.clone(),
                    lift: s.estimate,
                    ci: s.ci,
                    since: card.experiment.started_at,
                });
            }
        }
    }
    Ok(out)
}
