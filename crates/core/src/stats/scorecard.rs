//! An experiment's scorecard from its stored sums (pure: `domain::experiments::scorecard`
//! reads the store): every metric × variation against control, with the lift a
//! fixed-horizon test gives, the always-valid (sequential) test a peeking lead can trust,
//! corrected for the number of comparisons (Holm), the Bayesian chance to win, the
//! sample-ratio check, and whether it is ready to decide.

use serde::Serialize;
use ts_rs::TS;

use super::compare::{self, Estimate, Lift, SEQUENTIAL_TUNING};
use super::{bayes, design, multiple, with_theta, Stat, Sums};
use crate::model::{Experiment, ExperimentMetric, HistoryPoint, MetricKind, MetricSums};

/// The significance level of every test and interval here.
pub const ALPHA: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Outcome {
    /// Better than control, significantly under the sequential test after correction.
    Win,
    /// Worse than control, likewise.
    Loss,
    /// A guardrail metric significantly worse.
    GuardrailBreached,
    /// No significant difference (yet).
    Flat,
    /// The data cannot answer (see the comparison's `error`).
    NoAnswer,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Comparison {
    pub variation: String,
    pub units: f64,
    pub mean: f64,
    /// Relative lift with a fixed-horizon (Welch) interval: right only if looked at once.
    pub lift: Option<Estimate>,
    /// Relative lift with an always-valid interval: right however often it is looked at.
    pub sequential: Option<Estimate>,
    /// The sequential p-value after Holm's correction over every comparison of the experiment.
    pub adjusted_p: Option<f64>,
    pub chance_to_win: Option<f64>,
    pub verdict: Outcome,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct MetricCard {
    pub metric: ExperimentMetric,
    pub control_units: f64,
    pub control_mean: f64,
    pub variations: Vec<Comparison>,
    /// The smallest relative lift a fixed-horizon test at these sample sizes detects with
    /// 80 % power at α = 0.05 (`design::minimum_detectable_effect` × control sd / control
    /// mean); `None` for a ratio metric or without a spread to measure.
    pub mde: Option<f64>,
}

/// Power the minimum detectable effect is stated at.
pub const MDE_POWER: f64 = 0.8;

/// The minimum detectable relative lift of metric `kind` with the control's sums `c` and the
/// smallest variation's units `n2` (see [`MetricCard::mde`]).
fn mde(kind: MetricKind, c: &MetricSums, n2: f64) -> Option<f64> {
    if kind == MetricKind::Ratio || c.n < 2.0 || n2 < 2.0 {
        return None;
    }
    let mean = c.sum / c.n;
    // The per-unit variance: p(1 − p) for a proportion, the sample variance for a mean.
    let var = match kind {
        MetricKind::Binomial => mean * (1.0 - mean),
        _ => (c.sum_squares - c.sum * c.sum / c.n) / (c.n - 1.0),
    };
    if mean == 0.0 || var.is_nan() || var <= 0.0 {
        return None;
    }
    let d = design::minimum_detectable_effect(c.n, n2 / c.n, ALPHA, MDE_POWER);
    Some(d * var.sqrt() / mean.abs()).filter(|x| x.is_finite())
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Scorecard {
    pub experiment: Experiment,
    pub days_running: f64,
    pub units: f64,
    /// The chi-square p-value of units per variation against the configured split.
    pub srm_p_value: f64,
    /// A sample-ratio mismatch (p below 0.001): the results are not to be trusted.
    pub srm: bool,
    pub metrics: Vec<MetricCard>,
    /// Why it can be decided now, when it can.
    pub ready: Option<String>,
    /// The decision taken, once taken.
    pub decision: Option<crate::model::ExperimentDecided>,
}

/// The statistic of one metric in one variation.
fn stat_of(kind: MetricKind, s: &MetricSums) -> Stat {
    let sums = |sum, sum_squares| Sums {
        n: s.n,
        sum,
        sum_squares,
    };
    match (kind, s.denominator, s.pre) {
        (MetricKind::Ratio, Some((d, dd, dp)), _) => Stat::Ratio {
            n: s.n,
            m: sums(s.sum, s.sum_squares),
            d: sums(d, dd),
            sum_products: dp,
        },
        (_, _, Some((p, pp, pq))) => Stat::Adjusted {
            n: s.n,
            post: sums(s.sum, s.sum_squares),
            pre: sums(p, pp),
            sum_products: pq,
            theta: 0.0,
        },
        (MetricKind::Binomial, _, _) => Stat::Proportion {
            n: s.n,
            conversions: s.sum,
        },
        _ => Stat::Mean(sums(s.sum, s.sum_squares)),
    }
}

/// The scorecard from what is stored (pure, for the list and tests).
pub fn card(
    experiment: Experiment,
    metrics: &[ExperimentMetric],
    sums: &[MetricSums],
    now: i64,
) -> Scorecard {
    let names: Vec<&str> = experiment
        .variants
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let units: Vec<f64> = experiment.variants.iter().map(|v| v.units as f64).collect();
    let weights: Vec<f64> = experiment
        .variants
        .iter()
        .map(|v| v.weight.unwrap_or(1.0))
        .collect();
    let srm_p_value = design::srm_p_value(&units, &weights);
    let mut cards = Vec::new();
    for m in metrics {
        let of = |v: &str| sums.iter().find(|s| s.metric == m.name && s.variation == v);
        let Some(control) = names.first().and_then(|c| of(c)) else {
            // Shown, not dropped: a metric quietly missing would make the next one primary.
            cards.push(MetricCard {
                metric: m.clone(),
                control_units: 0.0,
                control_mean: 0.0,
                variations: names
                    .iter()
                    .skip(1)
                    .map(|v| Comparison {
                        variation: v.to_string(),
                        units: of(v).map_or(0.0, |s| s.n),
                        mean: 0.0,
                        lift: None,
                        sequential: None,
                        adjusted_p: None,
                        chance_to_win: None,
                        verdict: Outcome::NoAnswer,
                        error: Some("control has no data for this metric".into()),
                    })
                    .collect(),
                mde: None,
            });
            continue;
        };
        let a = stat_of(m.kind, control);
        let mut variations = Vec::new();
        for name in names.iter().skip(1) {
            let Some(s) = of(name) else { continue };
            let (a, b) = with_theta(a, stat_of(m.kind, s));
            let lift = compare::welch(&a, &b, Lift::Relative, ALPHA);
            let sequential = compare::sequential(&a, &b, Lift::Relative, ALPHA, SEQUENTIAL_TUNING);
            let posterior = bayes::posterior(&a, &b, Lift::Relative, ALPHA);
            variations.push(Comparison {
                variation: name.to_string(),
                units: b.n(),
                mean: b.unadjusted_mean(),
                error: lift.as_ref().err().map(ToString::to_string),
                lift: lift.ok(),
                sequential: sequential.ok(),
                adjusted_p: None,
                chance_to_win: posterior.ok().map(|p| {
                    if m.inverse {
                        1.0 - p.chance_to_win
                    } else {
                        p.chance_to_win
                    }
                }),
                verdict: Outcome::NoAnswer,
            });
        }
        let smallest = variations
            .iter()
            .map(|v| v.units)
            .fold(f64::INFINITY, f64::min);
        cards.push(MetricCard {
            metric: m.clone(),
            control_units: control.n,
            control_mean: a.unadjusted_mean(),
            mde: smallest
                .is_finite()
                .then(|| mde(m.kind, control, smallest))
                .flatten(),
            variations,
        });
    }
    // Holm over every comparison that has a sequential p-value.
    let ps: Vec<f64> = cards
        .iter()
        .flat_map(|c| c.variations.iter())
        .filter_map(|v| v.sequential.map(|s| s.p_value))
        .collect();
    let mut adjusted = multiple::holm(&ps).into_iter();
    for c in &mut cards {
        for v in &mut c.variations {
            let Some(s) = v.sequential else { continue };
            let p = adjusted.next().unwrap_or(1.0);
            v.adjusted_p = Some(p);
            let better = (s.estimate > 0.0) != c.metric.inverse;
            v.verdict = match (p < ALPHA, better, c.metric.guardrail) {
                (false, _, _) => Outcome::Flat,
                (true, true, _) => Outcome::Win,
                (true, false, true) => Outcome::GuardrailBreached,
                (true, false, false) => Outcome::Loss,
            };
        }
    }
    let srm = srm_p_value < design::SRM_THRESHOLD;
    let ready = readiness(srm, &cards);
    Scorecard {
        days_running: ((now - experiment.started_at).max(0) as f64) / 86_400.0,
        units: units.iter().sum(),
        srm_p_value,
        srm,
        metrics: cards,
        ready,
        experiment,
        decision: None,
    }
}

/// Ready to decide: a guardrail breached (stop), or every variation of the primary metric
/// significantly different under the always-valid test. Never with a sample-ratio mismatch.
fn readiness(srm: bool, cards: &[MetricCard]) -> Option<String> {
    if srm {
        return None;
    }
    for c in cards {
        for v in &c.variations {
            if v.verdict == Outcome::GuardrailBreached {
                return Some(format!(
                    "{} breaks guardrail {}",
                    v.variation, c.metric.name
                ));
            }
        }
    }
    let primary = cards.iter().find(|c| !c.metric.guardrail)?;
    let decided = !primary.variations.is_empty()
        && primary
            .variations
            .iter()
            .all(|v| matches!(v.verdict, Outcome::Win | Outcome::Loss));
    decided.then(|| {
        let words: Vec<String> = primary
            .variations
            .iter()
            .map(|v| {
                format!(
                    "{} {} on {}",
                    v.variation,
                    if v.verdict == Outcome::Win {
                        "wins"
                    } else {
                        "loses"
                    },
                    primary.metric.name
                )
            })
            .collect();
        words.join("; ")
    })
}

/// One day of a variation's cumulative relative lift over control.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct LiftPoint {
    pub day: String,
    /// The variation's units by the end of the day.
    pub units: f64,
    /// With the fixed-horizon (Welch) interval: the one a lead who peeks every day is fooled by.
    pub lift: Option<Estimate>,
    /// With the always-valid interval, which holds however often it is looked at.
    pub sequential: Option<Estimate>,
}

/// A metric's cumulative lift over time in one variation.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct LiftSeries {
    pub metric: String,
    pub variation: String,
    pub points: Vec<LiftPoint>,
}

/// Cumulative lift over time: for every metric × variation other than control, the lift as
/// the scorecard computes it from the sums as they stood at the end of each day of
/// `history` (uncorrected for the number of comparisons, as each day is one look). Days
/// where control or the variation has no data for the metric are left out.
pub fn cumulative(
    experiment: &Experiment,
    metrics: &[ExperimentMetric],
    history: &[HistoryPoint],
) -> Vec<LiftSeries> {
    let Some((control, others)) = experiment.variants.split_first() else {
        return vec![];
    };
    let mut out = Vec::new();
    for m in metrics {
        for v in others {
            let points = history
                .iter()
                .filter_map(|p| {
                    let of = |name: &str| {
                        p.sums
                            .iter()
                            .find(|s| s.metric == m.name && s.variation == name)
                    };
                    let (a, b) = (of(&control.name)?, of(&v.name)?);
                    let (a, b) = with_theta(stat_of(m.kind, a), stat_of(m.kind, b));
                    Some(LiftPoint {
                        day: p.day.clone(),
                        units: b.n(),
                        lift: compare::welch(&a, &b, Lift::Relative, ALPHA).ok(),
                        sequential: compare::sequential(
                            &a,
                            &b,
                            Lift::Relative,
                            ALPHA,
                            SEQUENTIAL_TUNING,
                        )
                        .ok(),
                    })
                })
                .collect();
            out.push(LiftSeries {
                metric: m.name.clone(),
                variation: v.name.clone(),
                points,
            });
        }
    }
    out
}
