//! The Changes view: change requests with their runs, cost, work item and the policy's verdict; a change's diff; the outbox.

use std::collections::HashMap;

use super::*;
use crate::model::WorkState;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ChangeRow {
    pub change: ChangeRequest,
    pub checks: Vec<Check>,
    /// Agent runs on the same repo and branch (ids).
    pub runs: Vec<String>,
    /// Those runs in brief: what the agent was asked, with which model, at what cost.
    pub run_summaries: Vec<RunSummary>,
    /// The merge policy's verdict on an open change, as it stands now.
    pub verdict: Option<crate::domain::policy::Verdict>,
    /// Why there is no verdict (a malformed policy, an unreadable repo).
    pub policy_error: Option<String>,
    /// Work items this change works on (linked to its id, or to its branch in its repo).
    pub work_items: Vec<WorkRef>,
}

/// A work item in brief, as a change request's page links it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct WorkRef {
    pub id: String,
    pub title: String,
    pub state: WorkState,
    pub assignee: Option<String>,
}

/// One agent run behind a change request, in brief.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RunSummary {
    pub id: String,
    pub agent: String,
    pub model: String,
    /// The first prompt, shortened.
    pub title: String,
    pub state: RunState,
    #[ts(type = "number")]
    pub turns: i64,
    #[ts(type = "number")]
    pub tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ChangesView {
    /// Every open change request and the [`RECENT_CLOSED`] closed or merged ones updated last.
    pub changes: Vec<ChangeRow>,
    /// Closed and merged change requests left out (older than those listed).
    #[ts(type = "number")]
    pub closed_not_listed: i64,
    /// The last GitHub refresh (when, rate limit, error); `None` before the first.
    pub github: Option<crate::forge::github::ForgeStatus>,
}

/// How many closed or merged change requests the Changes view lists, newest first.
pub const RECENT_CLOSED: i64 = 200;

/// Open and recent change requests with their checks, linked runs and policy verdict.
/// `policy_file`: the policy file to judge by (`None`: built-in defaults).
pub async fn changes(store: &Store, policy_file: Option<&Path>) -> Result<ChangesView> {
    let listing = store.change_listing(RECENT_CLOSED).await?;
    let repos = store.repos().await?;
    let known = crate::domain::policy::Known {
        checks: &listing.checks,
        reviews: &listing.reviews,
        repos: &repos,
        files: Some(&listing.files),
    };
    let mut checks_of: HashMap<&str, Vec<&Check>> = HashMap::new();
    for k in &listing.checks {
        checks_of.entry(&k.change_request).or_default().push(k);
    }
    let mut runs_on: HashMap<(&str, &str), Vec<&AgentRun>> = HashMap::new();
    for r in &listing.runs {
        if let (Some(repo), Some(branch)) = (r.repo.as_deref(), r.branch.as_deref()) {
            runs_on.entry((repo, branch)).or_default().push(r);
        }
    }
    let ids: Vec<&str> = listing.changes.iter().map(|c| c.id.as_str()).collect();
    let heads: Vec<&str> = listing.changes.iter().map(|c| c.head.as_str()).collect();
    let work = store.work_items_linked(&ids, &heads).await?;
    let policies = match policy_file {
        Some(p) => crate::domain::policy::PolicyFile::load(p).map_err(|e| e.to_string()),
        None => Ok(crate::domain::policy::PolicyFile::default()),
    };
    let now = chrono::Utc::now().timestamp();
    let mut rows = Vec::new();
    for c in listing.changes.iter().cloned() {
        let judged = match (&policies, c.state == ChangeState::Open) {
            (_, false) => Err(None),
            (Ok(file), true) => {
                crate::domain::policy::judge_change_among(store, file, &c, now, &known)
                    .await
                    .map_err(Some)
            }
            (Err(e), true) => Err(Some(e.clone())),
        };
        let (verdict, policy_error) = match judged {
            Ok(v) => (Some(v), None),
            Err(e) => (None, e),
        };
        let linked: &[&AgentRun] = runs_on
            .get(&(c.repo.as_str(), c.head.as_str()))
            .map_or(&[], Vec::as_slice);
        let work_items = work
            .iter()
            .filter(|w| crate::domain::work::works_on(w, &c))
            .map(|w| WorkRef {
                id: w.id.clone(),
                title: w.title.clone(),
                state: w.state,
                assignee: w.assignee.clone(),
            })
            .collect();
        rows.push(ChangeRow {
            work_items,
            checks: checks_of
                .get(c.id.as_str())
                .map_or_else(Vec::new, |ks| ks.iter().map(|k| (*k).clone()).collect()),
            runs: linked.iter().map(|r| r.id.clone()).collect(),
            run_summaries: linked
                .iter()
                .map(|r| RunSummary {
                    id: r.id.clone(),
                    agent: r.agent.clone(),
                    model: r.model.clone(),
                    title: r.title.clone(),
                    state: r.state,
                    turns: r.turns,
                    tokens: r.tokens.total(),
                    cost_usd: r.cost_usd,
                })
                .collect(),
            verdict,
            policy_error,
            change: c,
        });
    }
    Ok(ChangesView {
        changes: rows,
        closed_not_listed: listing.closed_not_listed,
        github: crate::forge::github::ForgeStatus::load(store).await?,
    })
}

/// Page `page` of a local change request's diff; `None` when there is no such change.
pub async fn change_diff(
    store: &Store,
    id: &str,
    page: usize,
) -> Result<Option<crate::forge::diff::ChangeDiff>> {
    let Some(c) = store.change_request(id).await? else {
        return Ok(None);
    };
    if c.kind != ChangeKind::Local {
        return Err(crate::Error::Invalid {
            path: c.id.into(),
            message:
                "a pull request's diff comes from the forge (flightdeck_app::review::change_diff)"
                    .into(),
        });
    }
    let Some(repo) = store.repo_path(&c.repo).await? else {
        return Err(crate::Error::Invalid {
            path: c.id.into(),
            message: format!(
                "a local change's diff is read from its clone, and this machine has no clone of {}",
                c.repo
            ),
        });
    };
    let repo = std::path::PathBuf::from(repo);
    tokio::task::spawn_blocking(move || {
        crate::forge::diff::local_diff(&repo, &c.base, &c.head_sha, page)
    })
    .await
    .map_err(|e| crate::Error::Invalid {
        path: id.into(),
        message: format!("diff task failed: {e}"),
    })?
    .map(Some)
    .map_err(|e| crate::Error::git(&c.repo, e))
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct OutboxView {
    /// In queue order: queued, sending, applied and failed actions.
    pub actions: Vec<Action>,
}

pub async fn outbox(store: &Store) -> Result<OutboxView> {
    Ok(OutboxView {
        actions: store.actions().await?,
    })
}
