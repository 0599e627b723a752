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
    let mut by: BTreeMap<i64, WeekVelocity> = BTreeMap::new();
    let (mut agent_total, mut total) = (0i64, 0i64);
    for w in store.commit_weeks(from, now + 1).await? {
        let week = by.entry(w.monday).or_insert_with(|| WeekVelocity {
            week: week_of(w.monday),
            agent_commits: 0,
            human_commits: 0,
            agent_lines: 0,
            human_lines: 0,
        });
        total += w.commits;
        if w.agent {
            week.agent_commits += w.commits;
            week.agent_lines += w.lines;
            agent_total += w.commits;
        } else {
            week.human_commits += w.commits;
            week.human_lines += w.lines;
        }
    }
    Ok(VelocityView {
        work_done: crate::views::board::work_throughput(store, from).await?,
        weeks: by.into_values().collect(),
        agent_share: if total == 0 {
            0.0
        } else {
            agent_total as f64 / total as f64
        },
    })
}
