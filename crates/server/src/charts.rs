//! Charts as SVG, rendered server-side with plotters so the browser, the desktop window and a
//! report all show the same picture.

use flightdeck_core::views::{SpendView, VelocityView};
use plotters::prelude::*;

use crate::error::ApiError;

const W: u32 = 800;
const H: u32 = 280;
const AGENT: RGBColor = RGBColor(124, 92, 255);
const HUMAN: RGBColor = RGBColor(38, 166, 154);

fn err(e: impl std::fmt::Display) -> ApiError {
    ApiError::Chart(e.to_string())
}

/// Daily agent spend (USD) over the days that have any, as an area.
pub fn spend_by_day(v: &SpendView) -> Result<String, ApiError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let days = &v.by_day;
        let max = days.iter().map(|d| d.cost_usd).fold(0.0, f64::max).max(1.0) * 1.1;
        let n = days.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption("Agent spend per day (USD)", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0..n, 0.0..max)
            .map_err(err)?;
        let labels: Vec<String> = days
            .iter()
            .map(|d| d.key.get(5..).unwrap_or(&d.key).to_string())
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .y_label_formatter(&|y| format!("${y:.0}"))
            .draw()
            .map_err(err)?;
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
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Commits per week, agent and human, as two lines.
pub fn commits_by_week(v: &VelocityView) -> Result<String, ApiError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let weeks = &v.weeks;
        let max = weeks
            .iter()
            .map(|w| w.agent_commits.max(w.human_commits))
            .max()
            .unwrap_or(0)
            .max(1) as f64
            * 1.15;
        let n = weeks.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption("Commits per week: agents vs people", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0..n, 0.0..max)
            .map_err(err)?;
        let labels: Vec<String> = weeks
            .iter()
            .map(|w| w.week.get(5..).unwrap_or(&w.week).to_string())
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                weeks
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (i, w.agent_commits as f64)),
                AGENT.stroke_width(2),
            ))
            .map_err(err)?
            .label("agents")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], AGENT.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                weeks
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (i, w.human_commits as f64)),
                HUMAN.stroke_width(2),
            ))
            .map_err(err)?
            .label("people")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], HUMAN.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.2))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Share of commits written by agents, per week, as a line (0–100 %).
pub fn agent_share(v: &VelocityView) -> Result<String, ApiError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let weeks = &v.weeks;
        let n = weeks.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption("Agent share of commits per week (%)", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0..n, 0.0..100.0)
            .map_err(err)?;
        let labels: Vec<String> = weeks
            .iter()
            .map(|w| w.week.get(5..).unwrap_or(&w.week).to_string())
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                AreaSeries::new(
                    weeks.iter().enumerate().map(|(i, w)| {
                        let all = (w.agent_commits + w.human_commits).max(1) as f64;
                        (i, 100.0 * w.agent_commits as f64 / all)
                    }),
                    0.0,
                    AGENT.mix(0.25),
                )
                .border_style(AGENT.stroke_width(2)),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
