//! The work board: work items in columns by assignee (nobody, each person, each configured
//! agent), each with its latest dispatch and what the runs on it cost; per assignee the load
//! (open items, dispatches running or queued, items waiting for review) and per agent its
//! slots. Also the weekly count of work done by agents and by people, for Velocity.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use ts_rs::TS;

use crate::domain::work::AgentConfig;
use crate::model::error::Result;
use crate::model::{Dispatch, DispatchState, WorkItem, WorkLinkKind, WorkState};
use crate::store::Store;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct WorkBoard {
    pub columns: Vec<BoardColumn>,
    pub agents: Vec<AgentSlots>,
    /// The states an item moves through, in order.
    pub states: Vec<WorkState>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct BoardColumn {
    /// `person:NAME`, `agent:NAME`, or `None` for work nobody has yet.
    pub assignee: Option<String>,
    pub load: Load,
    /// Open items first (by state), then done and dropped; newest first within a state.
    pub items: Vec<BoardItem>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Load {
    /// Items not done or dropped.
    #[ts(type = "number")]
    pub open: i64,
    /// Dispatches running or queued (agents).
    #[ts(type = "number")]
    pub running: i64,
    /// Items in review.
    #[ts(type = "number")]
    pub review_queue: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct BoardItem {
    pub work: WorkItem,
    /// The newest dispatch of the item (its prompt left out).
    pub dispatch: Option<Dispatch>,
    /// The runs linked to it, or working on its branches, and what they cost.
    #[ts(type = "number")]
    pub runs: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AgentSlots {
    pub name: String,
    pub vendor: Option<String>,
    pub model: Option<String>,
    #[ts(type = "number")]
    pub concurrency: i64,
    #[ts(type = "number")]
    pub running: i64,
    #[ts(type = "number")]
    pub queued: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct WorkThroughput {
    /// The week, as the commit weeks beside it are named.
    pub week: String,
    #[ts(type = "number")]
    pub by_agents: i64,
    #[ts(type = "number")]
    pub by_people: i64,
}

/// Done and dropped items leave the board this long after they last changed.
pub const CLOSED_SHOWN_SECS: i64 = 14 * 86_400;

pub async fn work_board(
    store: &Store,
    agents: &BTreeMap<String, AgentConfig>,
    now: i64,
) -> Result<WorkBoard> {
    // Open items and those closed lately, read as such (a year holds 10,000s of done ones).
    let mut items = store
        .work_items_open_or_since(now - CLOSED_SHOWN_SECS + 1)
        .await?;
    items.retain(|w| {
        !matches!(w.state, WorkState::Done | WorkState::Dropped)
            || now - w.updated_at < CLOSED_SHOWN_SECS
    });
    let dispatches = store.dispatches().await?;
    // Only the runs the listed items link to, by id or by branch (a year holds 10,000s).
    let ids: Vec<&str> = items
        .iter()
        .flat_map(|w| &w.links)
        .filter(|l| l.kind == WorkLinkKind::Run)
        .map(|l| l.target.as_str())
        .collect();
    let branches: Vec<(&str, &str)> = items.iter().flat_map(|w| w.branch_links()).collect();
    let mut runs = store.runs_with_ids(&ids).await?;
    runs.extend(store.runs_on_branches(&branches).await?);
    crate::store::newest_first(&mut runs);
    runs.dedup_by(|a, b| a.id == b.id);
    // Newest first, so the first seen per item is its latest.
    let mut latest: HashMap<&str, &Dispatch> = HashMap::new();
    for d in &dispatches {
        latest.entry(d.work_item.as_str()).or_insert(d);
    }
    let mut columns: BTreeMap<Option<String>, BoardColumn> = BTreeMap::new();
    let column = |a: Option<String>| BoardColumn {
        assignee: a,
        load: Load::default(),
        items: vec![],
    };
    // Unassigned work and every configured agent always have a column.
    columns.insert(None, column(None));
    for name in agents.keys() {
        let a = Some(format!("agent:{name}"));
        columns.insert(a.clone(), column(a));
    }
    for w in items {
        let linked: Vec<_> = runs
            .iter()
            .filter(|r| {
                w.links.iter().any(|l| {
                    (l.kind == WorkLinkKind::Run && l.target == r.id)
                        || (l.kind == WorkLinkKind::Branch
                            && r.branch.as_deref() == Some(&l.target)
                            && w.repo.is_some()
                            && r.repo == w.repo)
                })
            })
            .collect();
        let dispatch = latest.get(w.id.as_str()).map(|d| Dispatch {
            prompt: String::new(),
            ..(*d).clone()
        });
        let col = columns
            .entry(w.assignee.clone())
            .or_insert_with(|| column(w.assignee.clone()));
        if !matches!(w.state, WorkState::Done | WorkState::Dropped) {
            col.load.open += 1;
        }
        if w.state == WorkState::InReview {
            col.load.review_queue += 1;
        }
        col.items.push(BoardItem {
            runs: linked.len() as i64,
            cost_usd: linked.iter().map(|r| r.cost_usd).sum(),
            dispatch,
            work: w,
        });
    }
    let mut slots = Vec::new();
    for (name, a) in agents {
        let count = |state: DispatchState| {
            dispatches
                .iter()
                .filter(|d| &d.agent == name && d.state == state)
                .count() as i64
        };
        let (running, queued) = (count(DispatchState::Running), count(DispatchState::Queued));
        if let Some(col) = columns.get_mut(&Some(format!("agent:{name}"))) {
            col.load.running = running + queued;
        }
        slots.push(AgentSlots {
            name: name.clone(),
            vendor: a.vendor.clone(),
            model: a.model.clone(),
            concurrency: a.concurrency.unwrap_or(1) as i64,
            running,
            queued,
        });
    }
    let rank = |s: WorkState| WorkState::ALL.iter().position(|x| *x == s);
    let mut columns: Vec<BoardColumn> = columns.into_values().collect();
    for c in &mut columns {
        c.items.sort_by(|a, b| {
            rank(a.work.state)
                .cmp(&rank(b.work.state))
                .then(b.work.updated_at.cmp(&a.work.updated_at))
        });
    }
    // Unassigned first, then people, then agents.
    columns.sort_by_key(|c| match c.assignee.as_deref() {
        None => (0, String::new()),
        Some(a) if a.starts_with("person:") => (1, a.to_string()),
        Some(a) => (2, a.to_string()),
    });
    Ok(WorkBoard {
        columns,
        agents: slots,
        states: WorkState::ALL.to_vec(),
    })
}

/// Work items done per ISO week since `from`, by agents and by people (an item counts for
/// whoever it was assigned to when done; unassigned ones are left out).
pub async fn work_throughput(store: &Store, from: i64) -> Result<Vec<WorkThroughput>> {
    let mut by: BTreeMap<String, WorkThroughput> = BTreeMap::new();
    // Only the two columns counted: the items (every agent run's, at team scale 50,000) with
    // their links were most of the Velocity view's time.
    for (updated_at, assignee) in store.work_done_since(from).await? {
        let week = crate::model::days::week_of_day(&crate::model::days::of(updated_at));
        let t = by.entry(week.clone()).or_insert_with(|| WorkThroughput {
            week,
            by_agents: 0,
            by_people: 0,
        });
        match assignee.as_deref() {
            Some(a) if a.starts_with("agent:") => t.by_agents += 1,
            Some(_) => t.by_people += 1,
            None => {}
        }
    }
    Ok(by.into_values().collect())
}
