//! The weekly report: one self-contained HTML page (inline style, charts as inline SVG) a
//! manager can open or mail without the app. DORA keys and velocity for the week, cycle time by
//! phase, and trends over the weeks before it, all split agents vs people.

use flightdeck_core::metrics::dora::{self, DoraConfig, Spread};
use flightdeck_core::store::Store;
use flightdeck_core::{metrics::cycle, metrics::velocity};

use crate::charts;
use crate::error::ApiError;

const WEEK: i64 = 7 * 86_400;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn hours(v: Option<i64>) -> String {
    v.map_or_else(|| "–".into(), |s| format!("{:.1} h", s as f64 / 3_600.0))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.0} %", v * 100.0))
}

fn spread(s: &Spread) -> String {
    format!(
        "{} / {} <small>({})</small>",
        hours(s.median_secs),
        hours(s.p90_secs),
        s.count
    )
}

/// The report for the week ending at `until` (exclusive), with trends over `weeks` weeks.
pub async fn weekly_html(store: &Store, until: i64, weeks: i64) -> Result<String, ApiError> {
    let weeks = weeks.clamp(2, 104);
    let since = until - WEEK;
    let cfg = DoraConfig::default();
    let d = dora::dora(store, None, since, until, &cfg).await?;
    let v = velocity::report(store, since, until).await?;
    let trend_from = until - weeks * WEEK;
    let mut lead = Vec::new();
    for w in 0..weeks {
        let from = trend_from + w * WEEK;
        let k = dora::dora(store, None, from, from + WEEK, &cfg).await?;
        lead.push((
            flightdeck_core::model::days::of(from),
            k.lead_time_agent.median_secs,
            k.lead_time_human.median_secs,
        ));
    }
    let throughput = cycle::throughput(store, None, trend_from, until).await?;
    let mut html = String::new();
    let title = format!(
        "Flightdeck weekly report: {} to {}",
        flightdeck_core::model::days::of(since),
        flightdeck_core::model::days::of(until - 1)
    );
    html.push_str(&format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font:14px system-ui,sans-serif;max-width:860px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;\
         padding:4px 10px;text-align:right}}th:first-child,td:first-child{{text-align:left}}\
         .cards{{display:flex;gap:12px;flex-wrap:wrap}}.card{{border:1px solid #ddd;\
         border-radius:6px;padding:8px 14px}}.card b{{display:block;font-size:20px}}\
         svg{{max-width:100%;height:auto}}small{{color:#777}}</style></head><body>\
         <h1>{t}</h1>",
        t = esc(&title)
    ));
    html.push_str(&format!(
        "<h2>DORA ({})</h2><div class=\"cards\" data-section=\"dora\">\
         <div class=\"card\">Deploys<b>{}</b>{:.1} per week, {} days</div>\
         <div class=\"card\">Lead time, median / p90<b>{}</b>{} / {}</div>\
         <div class=\"card\">Change failure rate<b>{}</b>{} failed: {} by a later revert or hotfix, incidents reported: {}</div>\
         <div class=\"card\">Time to restore, median<b>{}</b>{} restores</div>\
         <div class=\"card\">Agent share of shipped commits<b>{}</b>{} shipped</div></div>",
        esc(&d.production),
        d.deploys,
        d.deploys_per_week,
        d.deploy_days,
        hours(d.lead_time.median_secs),
        hours(d.lead_time.median_secs),
        hours(d.lead_time.p90_secs),
        pct(d.change_failure_rate),
        d.failed_deploys,
        d.incidents,
        d.incident_issues,
        hours(d.time_to_restore.median_secs),
        d.time_to_restore.count,
        pct(d.agent_share),
        d.commits_shipped
    ));
    html.push_str(
        "<h2>Agents vs people</h2><table data-section=\"split\"><tr><th>who</th><th>opened</th>\
         <th>merged</th><th>closed</th><th>acceptance</th><th>reworked</th>\
         <th>reverted</th><th>cost per merged</th></tr>",
    );
    for s in &v.split {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td>\
             <td>{} ({})</td><td>{}</td></tr>",
            esc(&s.kind),
            s.opened,
            s.merged,
            s.closed,
            pct(s.acceptance_rate),
            s.reworked,
            pct(s.rework_rate),
            s.reverted,
            pct(s.revert_rate),
            s.cost_per_merged_usd
                .map_or_else(|| "–".into(), |c| format!("${c:.2}"))
        ));
    }
    html.push_str(
        "</table><h2>Cycle time of changes merged this week</h2>\
         <p><small>median / p90 (cases)</small></p><table data-section=\"cycle\"><tr>\
         <th>phase</th><th>all</th><th>agents</th><th>people</th></tr>",
    );
    for p in &v.cycle.phases {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            spread(&p.all),
            spread(&p.agent),
            spread(&p.human)
        ));
    }
    html.push_str("</table>");
    html.push_str(&charts::cycle_phases(&v.cycle.phases)?);
    html.push_str(
        "<h2>Review load</h2><table data-section=\"reviewers\"><tr><th>reviewer</th>\
         <th>reviews</th><th>approved</th><th>changes requested</th><th>waiting</th></tr>",
    );
    for r in &v.reviewers {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.reviewer),
            r.reviews,
            r.approvals,
            r.changes_requested,
            r.waiting
        ));
    }
    html.push_str(&format!("</table><h2>Trends, {weeks} weeks</h2>"));
    html.push_str(&charts::merged_by_week(&throughput)?);
    html.push_str(&charts::lead_time_by_week(&lead)?);
    html.push_str(&format!(
        "<p><small>Definitions: see `flightdeck report dora --help` and the README. Made by \
         Flightdeck on {}.</small></p></body></html>",
        flightdeck_core::model::days::of(chrono::Utc::now().timestamp())
    ));
    Ok(html)
}
