//! The Velocity view: throughput per week, agents vs people.

use super::*;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct WeekVelocity {
    /// Monday of the week, `YYYY-MM-DD`.
    pub week: String,
    #[ts(type = "number")]
    pub agent_commits: i64,
    #[ts(type = "number")]
    pub human_commits: i64,
    #[ts(type = "number")]
    pub agent_lines: i64,
    #[ts(type = "number")]
    pub human_lines: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct VelocityView {
    pub weeks: Vec<WeekVelocity>,
    /// Share of commits made by agents over the whole range, 0..1.
    pub agent_share: f64,
    /// Work items done per week by agents and by people.
    pub work_done: Vec<crate::views::board::WorkThroughput>,
}

/// Commits and changed lines per week, agent vs human, over the `weeks` weeks up to `now`.
pub async fn velocity(store: &Store, now: i64, weeks: i64) -> Result<VelocityView> {
    let from = now - weeks * 7 * 86_400;
    let commits = store.commits_between(from, now + 1).await?;
    let mut by: BTreeMap<String, WeekVelocity> = BTreeMap::new();
    let mut agent_total = 0i64;
    for c in &commits {
        let week = week_of(c.committed_at);
        let w = by.entry(week.clone()).or_insert_with(|| WeekVelocity {
            week,
            agent_commits: 0,
            human_commits: 0,
            agent_lines: 0,
            human_lines: 0,
        });
        // A commit whose diffstat is unknown (a partial clone) counts, with no lines.
        let lines = c.insertions.unwrap_or(0) + c.deletions.unwrap_or(0);
        if c.agent.is_some() {
            w.agent_commits += 1;
            w.agent_lines += lines;
            agent_total += 1;
        } else {
            w.human_commits += 1;
            w.human_lines += lines;
        }
    }
    Ok(VelocityView {
        work_done: crate::views::board::work_throughput(store, from).await?,
        weeks: by.into_values().collect(),
        agent_share: if commits.is_empty() {
            0.0
        } else {
            agent_total as f64 / commits.len() as f64
        },
    })
}
