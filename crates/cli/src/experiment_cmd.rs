//! `flightdeck experiment list | show | sync | import | decide`: experiments with their statistics.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;
use flightdeck_app::Lead;
use flightdeck_core::config::Settings;
use flightdeck_core::domain::experiments;
use flightdeck_core::model::ExperimentCall;
use flightdeck_core::sources::experiment_file::ImportOptions;
use flightdeck_core::stats::scorecard::{Outcome, Scorecard};
use flightdeck_core::store::Store;

#[derive(Subcommand)]
pub enum ExperimentCmd {
    /// Experiments: state, days running, units, sample-ratio check, ready to decide.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// One experiment's scorecard: every metric × variation against control.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Decide: ship (the winning variation, or --variation), stop, or iterate. Signed in the
    /// audit log; taken once.
    Decide {
        id: String,
        /// ship, stop or iterate.
        call: String,
        #[arg(long)]
        variation: Option<String>,
        /// Why (needed when the split has a sample-ratio mismatch).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Read experiments and their results from GrowthBook (`[growthbook] api_url`; the key
    /// from GROWTHBOOK_API_KEY or `flightdeck token set --for growthbook`).
    Sync {
        #[arg(long)]
        json: bool,
    },
    /// Run a warehouse spec's queries (one per metric, on PostgreSQL) and store what they
    /// return as its experiment (docs/features.md, "Warehouse"; the URL from
    /// FLIGHTDECK_WAREHOUSE_URL or the spec).
    Warehouse {
        spec: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Load results from a CSV or Parquet file: per-unit rows or per-variation aggregates
    /// (docs/experiments.md); replaces what was stored for the experiment.
    Import {
        file: PathBuf,
        /// The experiment's id.
        #[arg(long)]
        experiment: String,
        #[arg(long)]
        name: Option<String>,
        /// The variations, control first, comma-separated (default: as stored, else as found
        /// in the file with `control` first).
        #[arg(long, value_delimiter = ',')]
        variations: Vec<String>,
        /// Configured traffic shares in the same order, comma-separated (default: equal).
        #[arg(long, value_delimiter = ',')]
        weights: Vec<f64>,
        /// A metric that must not get worse (repeatable).
        #[arg(long)]
        guardrail: Vec<String>,
        /// A metric where lower is better (repeatable).
        #[arg(long)]
        inverse: Vec<String>,
        /// A feature flag the experiment's code goes by (repeatable): changes whose diffs add
        /// it are linked to the experiment, as is its id.
        #[arg(long)]
        flag: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: &Settings, lead: &Lead, cmd: &ExperimentCmd) -> Result<ExitCode> {
    let now = chrono::Utc::now().timestamp();
    match cmd {
        ExperimentCmd::Decide {
            id,
            call,
            variation,
            reason,
        } => {
            let Some(call) = ExperimentCall::parse(call) else {
                bail!("`{call}` is not a decision: ship, stop or iterate");
            };
            let store = Store::open(&settings.database_url).await?;
            let bus = flightdeck_core::model::events::EventBus::new();
            let d = flightdeck_app::experiment::decide(
                lead,
                &store,
                &bus,
                id,
                call,
                variation.as_deref(),
                reason,
                now,
            )
            .await?;
            outln!(
                "{id}: {}{} by {}, signed in the audit log",
                d.call.as_str(),
                d.variation
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default(),
                d.by
            );
            Ok(ExitCode::SUCCESS)
        }
        ExperimentCmd::Sync { json } => {
            use flightdeck_core::sources::growthbook::{self, GrowthBookApi, GrowthBookError};
            let Some(api) = GrowthBookApi::configured(&settings.growthbook_api_url)? else {
                bail!("{}", GrowthBookError::NoKey);
            };
            let store = Store::open(&settings.database_url).await?;
            let s = growthbook::sync(&api, &store).await?;
            // The keys read are searched for now: a running app is not told of this sync.
            search_links(&store).await;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                outln!(
                    "growthbook ({}): {} experiments listed, {} updated, {} unchanged, {} drafts or archived skipped",
                    api.base(),
                    s.listed,
                    s.updated,
                    s.unchanged,
                    s.skipped
                );
            }
            for e in &s.errors {
                eprintln!("error: {e}");
            }
            Ok(if s.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        ExperimentCmd::Warehouse { spec, json } => {
            let store = Store::open(&settings.database_url).await?;
            let done = experiments::import_warehouse(&store, spec).await?;
            // The keys stored are searched for now: a running app is not told of an import.
            search_links(&store).await;
            if *json {
                let card = experiments::scorecard(&store, &done.experiment.id, now).await?;
                outln!("{}", serde_json::to_string_pretty(&card)?);
            } else {
                outln!(
                    "{}: {} rows, {} metrics ({})",
                    done.experiment.id,
                    done.rows,
                    done.metrics.len(),
                    done.metrics
                        .iter()
                        .map(|m| format!("{} {}", m.name, m.kind.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ExperimentCmd::Import {
            file,
            experiment,
            name,
            variations,
            weights,
            guardrail,
            inverse,
            flag,
            json,
        } => {
            let store = Store::open(&settings.database_url).await?;
            let o = ImportOptions {
                experiment: experiment.clone(),
                name: name.clone(),
                variations: variations.clone(),
                weights: weights.clone(),
                guardrails: guardrail.clone(),
                inverse: inverse.clone(),
                flags: flag.clone(),
            };
            let done = flightdeck_core::domain::experiments::import_file(&store, file, o).await?;
            // The keys stored are searched for now: a running app is not told of an import.
            search_links(&store).await;
            if *json {
                let card = experiments::scorecard(&store, experiment, now).await?;
                outln!("{}", serde_json::to_string_pretty(&card)?);
            } else {
                outln!(
                    "{}: {} rows, {} metrics ({}), variations {}",
                    done.experiment.id,
                    done.rows,
                    done.metrics.len(),
                    done.metrics
                        .iter()
                        .map(|m| format!("{} {}", m.name, m.kind.as_str()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    done.experiment
                        .variants
                        .iter()
                        .map(|v| format!("{} ({} units)", v.name, v.units))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ExperimentCmd::List { json, csv } => {
            let store = Store::open_existing(&settings.database_url).await?;
            let mut cards = Vec::new();
            for e in store.experiments().await? {
                if let Some(c) = experiments::scorecard(&store, &e.id, now).await? {
                    cards.push(c);
                }
            }
            if *json {
                outln!("{}", serde_json::to_string_pretty(&cards)?);
            } else if *csv {
                let mut w = crate::output::csv();
                w.write_record([
                    "id",
                    "name",
                    "state",
                    "days_running",
                    "units",
                    "srm_p_value",
                    "srm",
                    "ready",
                ])?;
                for c in &cards {
                    w.write_record([
                        c.experiment.id.clone(),
                        c.experiment.name.clone(),
                        c.experiment.state.as_str().to_string(),
                        format!("{:.1}", c.days_running),
                        format!("{}", c.units),
                        format!("{:.6}", c.srm_p_value),
                        c.srm.to_string(),
                        c.ready.clone().unwrap_or_default(),
                    ])?;
                }
                w.flush()?;
            } else {
                if cards.is_empty() {
                    outln!("no experiments; `flightdeck experiment import FILE --experiment ID`");
                }
                for c in &cards {
                    outln!(
                        "{:<28} {:<8} {:>5.1} days {:>9} units  {}{}",
                        c.experiment.id,
                        c.experiment.state.as_str(),
                        c.days_running,
                        c.units,
                        if c.srm { "SAMPLE RATIO MISMATCH  " } else { "" },
                        c.ready
                            .as_deref()
                            .map_or("not ready".to_string(), |r| format!("ready: {r}"))
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ExperimentCmd::Show { id, json, csv } => {
            let store = Store::open_existing(&settings.database_url).await?;
            let Some(card) = experiments::scorecard(&store, id, now).await? else {
                bail!("no experiment `{id}`; `flightdeck experiment list` shows them");
            };
            if *csv {
                show_csv(&card)?;
                return Ok(ExitCode::SUCCESS);
            }
            let work = flightdeck_core::domain::experiment_links::work(&store, &card).await?;
            let cumulative = experiments::cumulative(&store, id)
                .await?
                .map(|(_, series)| series)
                .unwrap_or_default();
            if *json {
                let mut v = serde_json::to_value(&card)?;
                v["work"] = serde_json::to_value(&work)?;
                v["cumulative"] = serde_json::to_value(&cumulative)?;
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                show(&card);
                show_cumulative(&card.experiment.metric, &cumulative);
                show_work(&work);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The primary metric's cumulative lift over its last days, per variation.
fn show_cumulative(metric: &str, series: &[flightdeck_core::stats::scorecard::LiftSeries]) {
    const LAST: usize = 14;
    let pct = |x: f64| format!("{:+.1}%", x * 100.0);
    let interval = |e: Option<flightdeck_core::stats::compare::Estimate>| {
        e.map_or("-".to_string(), |e| {
            format!("[{}, {}]", pct(e.ci.0), pct(e.ci.1))
        })
    };
    for s in series.iter().filter(|s| s.metric == metric) {
        if s.points.len() < 2 {
            continue; // one day is the scorecard itself
        }
        let skipped = s.points.len().saturating_sub(LAST);
        outln!(
            "\nCumulative lift of {metric}, {} against control ({} days{}):",
            s.variation,
            s.points.len(),
            if skipped > 0 {
                format!(", the last {LAST}")
            } else {
                String::new()
            }
        );
        outln!(
            "  {:<10} {:>9} {:>8}  {:<20} {:<20}",
            "day",
            "units",
            "lift",
            "one look 95 %",
            "always valid 95 %"
        );
        for p in &s.points[skipped..] {
            outln!(
                "  {:<10} {:>9} {:>8}  {:<20} {:<20}",
                p.day,
                p.units,
                p.lift.map_or("-".to_string(), |e| pct(e.estimate)),
                interval(p.lift),
                interval(p.sequential)
            );
        }
    }
}

/// The changes, runs, cost and deploys behind an experiment.
fn show_work(w: &flightdeck_core::domain::experiment_links::ExperimentWork) {
    if w.changes.is_empty() {
        outln!(
            "\nBehind it: no change request puts {} in code yet",
            if w.keys.is_empty() {
                "its keys".to_string()
            } else {
                w.keys.join(" or ")
            }
        );
        return;
    }
    outln!(
        "\nBehind it: {} changes, {} agent runs, {}{}",
        w.changes.len(),
        w.runs,
        usd(w.cost_usd),
        w.cost_per_lift_point
            .map(|c| format!(" ({} per point of lift)", usd(c)))
            .unwrap_or_default()
    );
    for c in &w.changes {
        outln!(
            "  {} [{}] {} — `{}` in {}; {} runs, {}; {}",
            c.id,
            c.state.as_str(),
            c.title,
            c.key,
            c.path,
            c.runs,
            usd(c.cost_usd),
            match c.deploys.first() {
                Some(d) => format!("shipped by {} ({})", d.deployment, d.environment),
                None => "not shipped".into(),
            }
        );
    }
    if let Some(warning) = &w.exposure_warning {
        outln!("  note: {warning}");
    }
}

/// Dollars with cents, or finer under a dime (an agent run can cost a few cents).
fn usd(x: f64) -> String {
    if x < 0.1 {
        format!("${x:.4}")
    } else {
        format!("${x:.2}")
    }
}

fn pct(x: f64) -> String {
    format!("{:+.2}%", x * 100.0)
}

fn show(c: &Scorecard) {
    outln!(
        "{} ({}), {:.1} days, {} units; sample ratio p = {:.4}{}",
        c.experiment.name,
        c.experiment.state.as_str(),
        c.days_running,
        c.units,
        c.srm_p_value,
        if c.srm {
            " — MISMATCH: do not trust these results"
        } else {
            ""
        }
    );
    for m in &c.metrics {
        outln!(
            "\n{} ({}{}{}): control mean {:.4} over {} units{}",
            m.metric.name,
            m.metric.kind.as_str(),
            if m.metric.guardrail {
                ", guardrail"
            } else {
                ""
            },
            if m.metric.inverse {
                ", lower is better"
            } else {
                ""
            },
            m.control_mean,
            m.control_units,
            m.mde
                .map(|d| format!("; detects a lift of ±{:.1}% (80 % power)", d * 100.0))
                .unwrap_or_default()
        );
        for v in &m.variations {
            match (&v.lift, &v.sequential) {
                (Some(l), Some(s)) => outln!(
                    "  {:<14} {} [{}, {}] p={:.4} | always-valid [{}, {}] p(adj)={:.4} | chance to win {:.1}% | {}",
                    v.variation,
                    pct(l.estimate),
                    pct(l.ci.0),
                    pct(l.ci.1),
                    l.p_value,
                    pct(s.ci.0),
                    pct(s.ci.1),
                    v.adjusted_p.unwrap_or(1.0),
                    v.chance_to_win.unwrap_or(0.5) * 100.0,
                    verdict(v.verdict)
                ),
                _ => outln!(
                    "  {:<14} no answer: {}",
                    v.variation,
                    v.error.as_deref().unwrap_or("-")
                ),
            }
        }
    }
    outln!(
        "\n{}",
        c.ready
            .as_deref()
            .map_or("Not ready to decide.".to_string(), |r| format!(
                "Ready to decide: {r}."
            ))
    );
}

fn verdict(v: Outcome) -> &'static str {
    match v {
        Outcome::Win => "WIN",
        Outcome::Loss => "LOSS",
        Outcome::GuardrailBreached => "GUARDRAIL BREACHED",
        Outcome::Flat => "flat",
        Outcome::NoAnswer => "no answer",
    }
}

fn show_csv(c: &Scorecard) -> Result<()> {
    let mut w = crate::output::csv();
    w.write_record([
        "metric",
        "variation",
        "units",
        "mean",
        "lift",
        "ci_low",
        "ci_high",
        "p_value",
        "sequential_ci_low",
        "sequential_ci_high",
        "adjusted_p",
        "chance_to_win",
        "verdict",
    ])?;
    let num = |x: Option<f64>| x.map(|x| format!("{x}")).unwrap_or_default();
    for m in &c.metrics {
        for v in &m.variations {
            w.write_record([
                m.metric.name.clone(),
                v.variation.clone(),
                format!("{}", v.units),
                format!("{}", v.mean),
                num(v.lift.map(|l| l.estimate)),
                num(v.lift.map(|l| l.ci.0)),
                num(v.lift.map(|l| l.ci.1)),
                num(v.lift.map(|l| l.p_value)),
                num(v.sequential.map(|s| s.ci.0)),
                num(v.sequential.map(|s| s.ci.1)),
                num(v.adjusted_p),
                num(v.chance_to_win),
                verdict(v.verdict).to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Searches the changes for the experiment keys just stored (a running app is not told of a
/// command's writes); a search that fails is a note: what was stored stands.
async fn search_links(store: &Store) {
    if let Err(e) = flightdeck_core::domain::experiment_links::link(store).await {
        eprintln!(
            "note: changes were not searched for the experiment's keys ({e}); the next search will"
        );
    }
}
