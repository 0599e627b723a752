//! "Mine": the part of a view that concerns one person — the changes whose review was asked of
//! them, the work items assigned to them, and the runs their agents made (the usage their
//! machine read). Each front end asks with the acting person; the filter is the same for all.

use crate::domain::team::{Config, Person};
use crate::model::error::Result;
use crate::store::Store;
use crate::views::{AgentsView, ChangesView};

/// Changes whose requested reviewers name `who`.
pub fn changes(view: &mut ChangesView, team: &Config, who: &Person) {
    let names = team.names_of(who);
    view.changes.retain(|r| {
        r.change
            .requested_reviewers
            .iter()
            .any(|r| names.contains(&r.to_lowercase()))
    });
}

/// Work items assigned to `who` (`person:NAME`, by any name they go by).
pub fn work(board: &mut crate::views::board::WorkBoard, team: &Config, who: &Person) {
    let names = team.names_of(who);
    for col in &mut board.columns {
        col.items.retain(|i| {
            i.work
                .assignee
                .as_deref()
                .and_then(|a| a.strip_prefix("person:"))
                .is_some_and(|a| names.contains(&a.to_lowercase()))
        });
    }
    board.columns.retain(|c| !c.items.is_empty());
}

/// Runs whose usage was read on `who`'s machine (stamped with their name), and the agents'
/// totals over those runs only.
pub async fn agents(
    store: &Store,
    view: &mut AgentsView,
    team: &Config,
    who: &Person,
) -> Result<()> {
    let names = team.names_of(who);
    let mine = store.runs_launched_by(&names).await?;
    // The view lists only some runs: the totals need all of theirs.
    let mut runs = store.agent_runs().await?;
    runs.retain(|r| mine.contains(&r.id));
    *view = crate::views::agents::summarise(runs);
    Ok(())
}
