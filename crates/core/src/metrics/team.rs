//! The manager's numbers per person and per team (`[team]`), over a range: the changes merged
//! that each person authored or whose agent runs they launched, and the agent runs and spend
//! they launched (the usage each machine stamps with its user). A person is matched to a
//! member by id or name; someone who is not a member is listed under their own name, in no
//! team; usage with no person (read before people were recorded) is "(unknown)".

use std::collections::BTreeMap;

use serde::Serialize;
use ts_rs::TS;

use crate::domain::team::Config;
use crate::metrics::reports::{spend_rows, SpendBy};
use crate::model::error::Result;
use crate::store::Store;

#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TeamFigures {
    /// Changes merged in the range that they authored or whose agent runs they launched.
    #[ts(type = "number")]
    pub merged_changes: i64,
    /// Of those, written by agents.
    #[ts(type = "number")]
    pub merged_agent_changes: i64,
    /// Agent sessions with usage in the range.
    #[ts(type = "number")]
    pub agent_runs: i64,
    /// What that usage cost.
    pub agent_cost_usd: f64,
}

impl TeamFigures {
    fn add(&mut self, o: &TeamFigures) {
        self.merged_changes += o.merged_changes;
        self.merged_agent_changes += o.merged_agent_changes;
        self.agent_runs += o.agent_runs;
        self.agent_cost_usd += o.agent_cost_usd;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct PersonFigures {
    /// The member's name, or the name as recorded.
    pub person: String,
    /// The `[team]` member id, when they are one.
    pub member: Option<String>,
    pub teams: Vec<String>,
    #[serde(flatten)]
    #[ts(flatten)]
    pub figures: TeamFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TeamRowFigures {
    pub team: String,
    /// The team's members (ids).
    pub members: Vec<String>,
    #[serde(flatten)]
    #[ts(flatten)]
    pub figures: TeamFigures,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TeamView {
    /// Most merged first.
    pub people: Vec<PersonFigures>,
    pub teams: Vec<TeamRowFigures>,
}

const UNKNOWN: &str = "(unknown)";

/// The figures for `[since, until)` (Unix seconds).
pub async fn team_view(store: &Store, team: &Config, since: i64, until: i64) -> Result<TeamView> {
    // Clamped to years a day name can spell (0000 to 9999).
    let day = |t: i64| crate::model::days::of(t.clamp(-62_167_219_200, 253_402_300_799));
    // Spend days are inclusive; the range's last second is the day before `until`.
    let (spend, _) = spend_rows(
        store,
        SpendBy::Person,
        Some(&day(since)),
        Some(&day(until - 1)),
    )
    .await?;
    let runs = store.runs_by_person(since, until).await?;
    let merged = store.merged_change_people(since, until).await?;

    // Everyone keyed by who they are: the member id, else the recorded name.
    let mut people: BTreeMap<String, PersonFigures> = BTreeMap::new();
    fn entry<'a>(
        people: &'a mut BTreeMap<String, PersonFigures>,
        team: &Config,
        recorded: &str,
    ) -> &'a mut PersonFigures {
        let recorded = if recorded.is_empty() {
            UNKNOWN
        } else {
            recorded
        };
        let p = team.person(recorded, "");
        let key = p.id.clone().unwrap_or_else(|| p.name.clone());
        people.entry(key).or_insert_with(|| PersonFigures {
            teams: p
                .id
                .as_deref()
                .map(|id| team.teams_of(id))
                .unwrap_or_default(),
            member: p.id,
            person: p.name,
            figures: TeamFigures::default(),
        })
    }
    for row in spend {
        entry(&mut people, team, &row.key).figures.agent_cost_usd += row.cost_usd;
    }
    for (person, n) in runs {
        entry(&mut people, team, &person).figures.agent_runs += n;
    }
    for (_, kind, author, launcher) in merged {
        // An agent's change is its launcher's; a person's, its author's.
        let who = match (kind.as_str(), launcher) {
            ("agent", Some(l)) => l,
            ("agent", None) => UNKNOWN.to_string(),
            _ => author,
        };
        let f = &mut entry(&mut people, team, &who).figures;
        f.merged_changes += 1;
        f.merged_agent_changes += i64::from(kind == "agent");
    }
    let mut teams: Vec<TeamRowFigures> = team
        .teams
        .iter()
        .map(|(name, members)| {
            let mut figures = TeamFigures::default();
            for p in people.values() {
                if p.teams.contains(name) {
                    figures.add(&p.figures);
                }
            }
            TeamRowFigures {
                team: name.clone(),
                members: members.clone(),
                figures,
            }
        })
        .collect();
    teams.sort_by_key(|t| std::cmp::Reverse(t.figures.merged_changes));
    let mut people: Vec<PersonFigures> = people.into_values().collect();
    people.sort_by(|a, b| {
        b.figures
            .merged_changes
            .cmp(&a.figures.merged_changes)
            .then_with(|| {
                b.figures
                    .agent_cost_usd
                    .total_cmp(&a.figures.agent_cost_usd)
            })
            .then_with(|| a.person.cmp(&b.person))
    });
    Ok(TeamView { people, teams })
}
