//! Charts as SVG, rendered server-side with plotters so the browser, the desktop window and a
//! report all show the same picture. Every chart is a series over labelled x positions (days or
//! weeks) drawn on one shared frame (`frame`); each function only says what to plot.

use flightdeck_core::metrics::cycle::{Phase, WeekCount};
use flightdeck_core::metrics::dora::LeadTimeBin;
use flightdeck_core::views::{SpendView, VelocityView};
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;

use crate::error::ApiError;

const W: u32 = 800;
const H: u32 = 280;
const AGENT: RGBColor = RGBColor(124, 92, 255);
const HUMAN: RGBColor = RGBColor(38, 166, 154);
const AGENT_LIGHT: RGBColor = RGBColor(190, 174, 255);
const HUMAN_LIGHT: RGBColor = RGBColor(140, 210, 204);

type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordusize, RangedCoordf64>>;

fn err(e: impl std::fmt::Display) -> ApiError {
    ApiError::Chart(e.to_string())
}

/// Draws the caption, axes and x labels (`MM-DD` of each key), lets `plot` add series, and
/// with `legend` the series' labels.
fn frame(
    caption: &str,
    keys: &[&str],
    y_max: f64,
    y_label: &dyn Fn(&f64) -> String,
    legend: bool,
    plot: impl FnOnce(&mut Chart) -> Result<(), ApiError>,
) -> Result<String, ApiError> {
    frame_over(caption, keys, 0.0..y_max, y_label, legend, plot)
}

/// [`frame`] over any range of y (one that goes below zero).
fn frame_over(
    caption: &str,
    keys: &[&str],
    y: std::ops::Range<f64>,
    y_label: &dyn Fn(&f64) -> String,
    legend: bool,
    plot: impl FnOnce(&mut Chart) -> Result<(), ApiError>,
) -> Result<String, ApiError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0..keys.len().max(1), y)
            .map_err(err)?;
        let labels: Vec<String> = keys
            .iter()
            // Dates as MM-DD; other keys (phase names) as they are.
            .map(|k| match k.as_bytes().get(4) {
                Some(b'-') if k.len() == 10 => k[5..].to_string(),
                _ => k.to_string(),
            })
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .y_label_formatter(y_label)
            .draw()
            .map_err(err)?;
        plot(&mut chart)?;
        if legend {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.2))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Daily agent spend (USD) over the days that have any, as an area.
pub fn spend_by_day(v: &SpendView) -> Result<String, ApiError> {
    let days = &v.by_day;
    let keys: Vec<&str> = days.iter().map(|d| d.key.as_str()).collect();
    let top = days.iter().map(|d| d.cost_usd).fold(0.0, f64::max);
    let max = top.max(0.01) * 1.1;
    // Cents when a day costs a few dollars at most: whole dollars would repeat on every tick.
    let decimals = if top < 10.0 { 2 } else { 0 };
    frame(
        "Agent spend per day (USD)",
        &keys,
        max,
        &|y| format!("${y:.decimals$}"),
        false,
        |chart| {
            chart
                .draw_series(
                    AreaSeries::new(
                        days.iter().enumerate().map(|(i, d)| (i, d.cost_usd)),
                        0.0,
                        AGENT.mix(0.3),
                    )
                    .border_style(AGENT.stroke_width(2)),
                )
                .map_err(err)?;
            Ok(())
        },
    )
}

/// Cost per week, stacked by vendor (each band one vendor; the top edge the week's total).
pub fn spend_by_vendor(weeks: &[(String, Vec<(String, f64)>)]) -> Result<String, ApiError> {
    const PALETTE: [RGBColor; 6] = [
        AGENT,
        HUMAN,
        RGBColor(255, 167, 38),
        RGBColor(66, 133, 244),
        RGBColor(239, 83, 80),
        RGBColor(141, 110, 99),
    ];
    let keys: Vec<&str> = weeks.iter().map(|(w, _)| w.as_str()).collect();
    let totals: Vec<f64> = weeks
        .iter()
        .map(|(_, by)| by.iter().map(|(_, c)| c).sum())
        .collect();
    let top = totals.iter().copied().fold(0.0, f64::max);
    let decimals = if top < 10.0 { 2 } else { 0 };
    let vendors: Vec<String> = weeks
        .first()
        .map(|(_, by)| by.iter().map(|(v, _)| v.clone()).collect())
        .unwrap_or_default();
    frame(
        "Spend per week by vendor (USD)",
        &keys,
        top.max(0.01) * 1.15,
        &|y| format!("${y:.decimals$}"),
        true,
        |chart| {
            // Drawn top band first: each area runs from 0 to the sum of its vendor and those
            // below it, so later (lower) areas cover the lower part of earlier ones.
            for (k, vendor) in vendors.iter().enumerate().rev() {
                let color = PALETTE[k % PALETTE.len()];
                let upto =
                    |by: &[(String, f64)]| by.iter().take(k + 1).map(|(_, c)| c).sum::<f64>();
                chart
                    .draw_series(
                        AreaSeries::new(
                            weeks.iter().enumerate().map(|(i, (_, by))| (i, upto(by))),
                            0.0,
                            color.mix(0.85),
                        )
                        .border_style(color.stroke_width(1)),
                    )
                    .map_err(err)?
                    .label(vendor.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                    });
            }
            Ok(())
        },
    )
}

/// Commits per week, agent and human, as two lines.
pub fn commits_by_week(v: &VelocityView) -> Result<String, ApiError> {
    let weeks = &v.weeks;
    let keys: Vec<&str> = weeks.iter().map(|w| w.week.as_str()).collect();
    let max = weeks
        .iter()
        .map(|w| w.agent_commits.max(w.human_commits))
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.15;
    frame(
        "Commits per week: agents vs people",
        &keys,
        max,
        &|y| format!("{y:.0}"),
        true,
        |chart| {
            for (label, color, count) in [
                (
                    "agents",
                    AGENT,
                    &(|w: &flightdeck_core::views::WeekVelocity| w.agent_commits)
                        as &dyn Fn(_) -> i64,
                ),
                (
                    "people",
                    HUMAN,
                    &|w: &flightdeck_core::views::WeekVelocity| w.human_commits,
                ),
            ] {
                chart
                    .draw_series(LineSeries::new(
                        weeks.iter().enumerate().map(|(i, w)| (i, count(w) as f64)),
                        color.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
            }
            Ok(())
        },
    )
}

/// Share of commits written by agents, per week, as an area (0–100 %).
pub fn agent_share(v: &VelocityView) -> Result<String, ApiError> {
    let weeks = &v.weeks;
    let keys: Vec<&str> = weeks.iter().map(|w| w.week.as_str()).collect();
    frame(
        "Agent share of commits per week (%)",
        &keys,
        100.0,
        &|y| format!("{y:.0}%"),
        false,
        |chart| {
            let share = weeks.iter().enumerate().map(|(i, w)| {
                let all = (w.agent_commits + w.human_commits).max(1) as f64;
                (i, 100.0 * w.agent_commits as f64 / all)
            });
            chart
                .draw_series(
                    AreaSeries::new(share, 0.0, AGENT.mix(0.25))
                        .border_style(AGENT.stroke_width(2)),
                )
                .map_err(err)?;
            Ok(())
        },
    )
}

/// Lines over labelled x positions, one per (label, color, values); a missing value breaks
/// nothing, it is left out of its line.
fn lines(
    caption: &str,
    keys: &[&str],
    series: &[(&str, RGBColor, Vec<Option<f64>>)],
    y_label: &dyn Fn(&f64) -> String,
) -> Result<String, ApiError> {
    let top = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().flatten())
        .copied()
        .fold(0.0, f64::max);
    frame(caption, keys, top.max(1.0) * 1.15, y_label, true, |chart| {
        for (label, color, values) in series {
            let color = *color;
            chart
                .draw_series(LineSeries::new(
                    values
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| v.map(|v| (i, v))),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(*label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    values
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| v.map(|v| Circle::new((i, v), 3, color.filled()))),
                )
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Changes merged per week, agents vs people.
pub fn merged_by_week(weeks: &[WeekCount]) -> Result<String, ApiError> {
    let keys: Vec<&str> = weeks.iter().map(|w| w.week.as_str()).collect();
    lines(
        "Changes merged per week: agents vs people",
        &keys,
        &[
            (
                "agents",
                AGENT,
                weeks.iter().map(|w| Some(w.agent as f64)).collect(),
            ),
            (
                "people",
                HUMAN,
                weeks.iter().map(|w| Some(w.human as f64)).collect(),
            ),
        ],
        &|y| format!("{y:.0}"),
    )
}

/// Median lead time (hours) per week, agents vs people; weeks without deploys are left out.
pub fn lead_time_by_week(weeks: &[(String, Option<i64>, Option<i64>)]) -> Result<String, ApiError> {
    let keys: Vec<&str> = weeks.iter().map(|(w, _, _)| w.as_str()).collect();
    let h = |v: &Option<i64>| v.map(|s| s as f64 / 3_600.0);
    lines(
        "Median lead time per week (hours): agents vs people",
        &keys,
        &[
            (
                "agents",
                AGENT,
                weeks.iter().map(|(_, a, _)| h(a)).collect(),
            ),
            (
                "people",
                HUMAN,
                weeks.iter().map(|(_, _, p)| h(p)).collect(),
            ),
        ],
        &|y| format!("{y:.0} h"),
    )
}

/// Each cycle-time phase's median and 90th percentile (hours), agents vs people.
pub fn cycle_phases(phases: &[Phase]) -> Result<String, ApiError> {
    let keys: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
    let h = |v: Option<i64>| v.map(|s| s as f64 / 3_600.0);
    lines(
        "Cycle time by phase (hours): median and p90, agents vs people",
        &keys,
        &[
            (
                "agents, median",
                AGENT,
                phases.iter().map(|p| h(p.agent.median_secs)).collect(),
            ),
            (
                "agents, p90",
                AGENT_LIGHT,
                phases.iter().map(|p| h(p.agent.p90_secs)).collect(),
            ),
            (
                "people, median",
                HUMAN,
                phases.iter().map(|p| h(p.human.median_secs)).collect(),
            ),
            (
                "people, p90",
                HUMAN_LIGHT,
                phases.iter().map(|p| h(p.human.p90_secs)).collect(),
            ),
        ],
        &|y| format!("{y:.0} h"),
    )
}

/// How lead times spread: each group's share (%) of its shipped commits per range, agents vs
/// people, so the two compare whatever their volumes.
pub fn lead_time_distribution(bins: &[LeadTimeBin]) -> Result<String, ApiError> {
    let keys: Vec<&str> = bins.iter().map(|b| b.label.as_str()).collect();
    let share = |pick: &dyn Fn(&LeadTimeBin) -> i64| {
        let total: i64 = bins.iter().map(pick).sum();
        bins.iter()
            .map(|b| (total > 0).then(|| 100.0 * pick(b) as f64 / total as f64))
            .collect()
    };
    lines(
        "Lead time distribution (% of commits shipped): agents vs people",
        &keys,
        &[
            ("agents", AGENT, share(&|b| b.agent)),
            ("people", HUMAN, share(&|b| b.human)),
        ],
        &|y| format!("{y:.0} %"),
    )
}

/// An experiment's forest plot: one row per metric × variation, its relative lift as a point
/// with the always-valid interval (thick, coloured by verdict) over the one-look interval
/// (thin), against a zero line. Rows with no answer are labelled and left empty.
pub fn forest(c: &flightdeck_core::stats::scorecard::Scorecard) -> Result<String, ApiError> {
    use flightdeck_core::stats::scorecard::Outcome;
    struct Row {
        label: String,
        lift: Option<(f64, (f64, f64))>,
        one_look: Option<(f64, f64)>,
        verdict: Outcome,
    }
    let rows: Vec<Row> = c
        .metrics
        .iter()
        .flat_map(|m| {
            m.variations.iter().map(move |v| Row {
                label: format!(
                    "{}{} · {}",
                    m.metric.name,
                    if m.metric.guardrail {
                        " (guardrail)"
                    } else {
                        ""
                    },
                    v.variation
                ),
                lift: v
                    .sequential
                    .map(|s| (s.estimate * 100.0, (s.ci.0 * 100.0, s.ci.1 * 100.0))),
                one_look: v.lift.map(|l| (l.ci.0 * 100.0, l.ci.1 * 100.0)),
                verdict: v.verdict,
            })
        })
        .collect();
    // The x range covers every interval and zero, with a margin; infinite ends are cut.
    let ends = rows
        .iter()
        .flat_map(|r| {
            let (a, b) = r.lift.map(|l| l.1).unwrap_or((0.0, 0.0));
            let (x, y) = r.one_look.unwrap_or((0.0, 0.0));
            [a, b, x, y]
        })
        .filter(|x| x.is_finite());
    let (lo, hi) = ends.fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let pad = ((hi - lo) * 0.08).max(0.5);
    let (lo, hi) = (lo - pad, hi + pad);
    let clamp = |x: f64| x.clamp(lo, hi);
    let height = (70 + 34 * rows.len().max(1)) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = rows.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: relative lift, 95 % intervals", c.experiment.name),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(260)
            .build_cartesian_2d(lo..hi, 0.0..n as f64)
            .map_err(err)?;
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n * 2 + 1)
            .y_label_formatter(&|y| {
                // Row k sits at k + 0.5, first row on top.
                let k = (*y - 0.5).round();
                if (*y - 0.5 - k).abs() > 1e-6 || k < 0.0 {
                    return String::new();
                }
                labels.get(n - 1 - k as usize).cloned().unwrap_or_default()
            })
            .x_label_formatter(&|x| format!("{x:+.0}%"))
            .x_desc("lift (thick: valid however often looked at; thin: one look)")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (0.0, n as f64)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(err)?;
        for (i, r) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64 + 0.5;
            let colour = match r.verdict {
                Outcome::Win => RGBColor(46, 160, 67),
                Outcome::Loss | Outcome::GuardrailBreached => RGBColor(207, 34, 46),
                Outcome::Flat => RGBColor(110, 118, 129),
                Outcome::NoAnswer => RGBColor(191, 135, 0),
            };
            if let Some((a, b)) = r.one_look {
                chart
                    .draw_series(LineSeries::new(
                        [(clamp(a), y - 0.18), (clamp(b), y - 0.18)],
                        colour.mix(0.6).stroke_width(1),
                    ))
                    .map_err(err)?;
            }
            if let Some((estimate, (a, b))) = r.lift {
                chart
                    .draw_series(LineSeries::new(
                        [(clamp(a), y), (clamp(b), y)],
                        colour.stroke_width(4),
                    ))
                    .map_err(err)?;
                chart
                    .draw_series([Circle::new((clamp(estimate), y), 5, colour.filled())])
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Cumulative lift over time of one metric: per variation, the relative lift as it stood at the
/// end of each day, a band for the always-valid interval and dashed edges for the one-look
/// interval (the one that wanders out of zero for a lead who peeks every day), against zero.
pub fn cumulative(
    experiment: &str,
    metric: &str,
    series: &[&flightdeck_core::stats::scorecard::LiftSeries],
) -> Result<String, ApiError> {
    const COLOURS: [RGBColor; 4] = [AGENT, HUMAN, RGBColor(191, 135, 0), RGBColor(207, 34, 46)];
    // Every day any variation has, in order: the x positions.
    let mut days: Vec<&str> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.day.as_str()))
        .collect();
    days.sort_unstable();
    days.dedup();
    let pct = |x: f64| x * 100.0;
    let ends = series
        .iter()
        .flat_map(|s| s.points.iter())
        .flat_map(|p| {
            let (a, b) = p.lift.map_or((0.0, 0.0), |e| e.ci);
            [a, b]
        })
        .map(pct)
        .filter(|x| x.is_finite());
    // The y range covers the one-look intervals and zero, with a margin: the always-valid
    // band of the first days is far wider and is cut at the edges rather than squash the rest.
    let (lo, hi) = ends.fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let span = (hi - lo).max(1.0);
    let (lo, hi) = (lo - span * 0.15, hi + span * 0.15);
    let clamp = |x: f64| x.clamp(lo, hi);
    let at = |day: &str| days.iter().position(|d| *d == day).unwrap_or_default();
    frame_over(
        &format!("{experiment}: cumulative lift of {metric}, 95 % intervals"),
        &days,
        lo..hi,
        &|y| format!("{y:+.0}%"),
        true,
        |chart| {
            chart
                .draw_series(LineSeries::new(
                    [(0, 0.0), (days.len().max(1), 0.0)],
                    BLACK.mix(0.5).stroke_width(1),
                ))
                .map_err(err)?;
            for (k, s) in series.iter().enumerate() {
                let colour = COLOURS[k % COLOURS.len()];
                let valid: Vec<(usize, (f64, f64))> = s
                    .points
                    .iter()
                    .filter_map(|p| {
                        p.sequential
                            .map(|e| (at(&p.day), (clamp(pct(e.ci.0)), clamp(pct(e.ci.1)))))
                    })
                    .collect();
                let band: Vec<(usize, f64)> = valid
                    .iter()
                    .map(|(x, (_, hi))| (*x, *hi))
                    .chain(valid.iter().rev().map(|(x, (lo, _))| (*x, *lo)))
                    .collect();
                if band.len() > 2 {
                    chart
                        .draw_series([Polygon::new(band, colour.mix(0.15).filled())])
                        .map_err(err)?;
                }
                for edge in [0, 1] {
                    let line: Vec<(usize, f64)> = s
                        .points
                        .iter()
                        .filter_map(|p| {
                            let e = p.lift?;
                            let y = if edge == 0 { e.ci.0 } else { e.ci.1 };
                            Some((at(&p.day), clamp(pct(y))))
                        })
                        .collect();
                    chart
                        .draw_series(DashedLineSeries::new(
                            line,
                            4,
                            3,
                            colour.mix(0.7).stroke_width(1),
                        ))
                        .map_err(err)?;
                }
                let estimates: Vec<(usize, f64)> = s
                    .points
                    .iter()
                    .filter_map(|p| Some((at(&p.day), clamp(pct(p.lift?.estimate)))))
                    .collect();
                chart
                    .draw_series(LineSeries::new(estimates.clone(), colour.stroke_width(2)))
                    .map_err(err)?
                    .label(format!(
                        "{} (band: valid however often looked at; dashed: one look)",
                        s.variation
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                    });
                chart
                    .draw_series(
                        estimates
                            .iter()
                            .map(|&(x, y)| Circle::new((x, y), 3, colour.filled())),
                    )
                    .map_err(err)?;
            }
            Ok(())
        },
    )
}
