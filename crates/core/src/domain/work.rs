//! Work items — tasks for a person or an agent — created in the cockpit (later also from
//! GitHub issues and agent runs), assigned and reassigned (each an audited decision), moved
//! through todo → in progress → in review → done (or dropped), and linked to the runs, branches
//! and change requests that work on them. Agents are configured (`[agents.NAME]`), not
//! hard-coded: who can be assigned, and how to start them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::audit::{AuditKey, Decision};
use crate::model::toml_file::ConfigError;
use crate::model::{
    ActionKind, ChangeState, WorkItem, WorkLink, WorkLinkKind, WorkSource, WorkState,
};
use crate::store::Store;

/// An agent as the config declares it:
///
/// ```toml
/// [agents.claude]
/// vendor = "anthropic"
/// model = "claude-sonnet-4-5"
/// command = ["claude", "--model", "{model}", "-p", "--", "{prompt}"]
/// concurrency = 2
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// The program and its arguments; `{prompt}`, `{model}`, `{dir}` and `{branch}` are
    /// replaced when it is started (each stays one argument: no shell is involved).
    pub command: Vec<String>,
    /// How many of its runs may go at once (default 1).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Variables of Flightdeck's environment it gets besides the basics and its vendor's API
    /// key (see `agent_env`); the lead's credentials are refused here.
    #[serde(default)]
    pub env: Vec<String>,
}

const PLACEHOLDERS: [&str; 4] = ["{prompt}", "{model}", "{dir}", "{branch}"];

/// Checks every agent: a command, known placeholders only, a concurrency of at least 1.
pub fn validate_agents(
    agents: &BTreeMap<String, AgentConfig>,
    path: &std::path::Path,
) -> Result<(), ConfigError> {
    let bad = |key: String, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        key,
        message,
    };
    for (name, a) in agents {
        if name.is_empty() || name.contains([':', ' ', '/']) {
            return Err(bad(
                format!("agents.\"{name}\""),
                "an agent's name is one word (no `:`, `/` or spaces)".into(),
            ));
        }
        if a.command.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(bad(
                format!("agents.{name}.command"),
                "needs the program to run, e.g. [\"claude\", \"-p\", \"--\", \"{prompt}\"]".into(),
            ));
        }
        for arg in &a.command {
            let mut rest = arg.as_str();
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}') else {
                    break;
                };
                let token = &rest[open..open + close + 1];
                if !PLACEHOLDERS.contains(&token) {
                    return Err(bad(
                        format!("agents.{name}.command"),
                        format!(
                            "unknown placeholder {token} (known: {})",
                            PLACEHOLDERS.join(", ")
                        ),
                    ));
                }
                rest = &rest[open + close + 1..];
            }
        }
        if let Some(secret) = a
            .env
            .iter()
            .find(|v| crate::domain::agent_env::is_secret(v))
        {
            return Err(bad(
                format!("agents.{name}.env"),
                format!("`{secret}` is a credential of the lead or of Flightdeck; an agent never gets it"),
            ));
        }
        if a.concurrency == Some(0) {
            return Err(bad(
                format!("agents.{name}.concurrency"),
                "at least 1".into(),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("no work item `{0}`; `flightdeck work list` shows them")]
    NotFound(String),
    #[error("`{0}` is not an assignee: use person:NAME or agent:NAME")]
    Assignee(String),
    #[error("no agent `{0}` is configured (add [agents.{0}] to the config); configured: {1}")]
    UnknownAgent(String, String),
    #[error("`{0}` is not a state (todo, in_progress, in_review, done, dropped)")]
    State(String),
    #[error("a work item needs a title")]
    NoTitle,
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// `person:NAME` or `agent:NAME` (a configured agent), normalised.
pub fn parse_assignee(
    s: &str,
    agents: &BTreeMap<String, AgentConfig>,
) -> Result<String, WorkError> {
    match s.trim().split_once(':') {
        Some(("person", name)) if !name.trim().is_empty() => Ok(format!("person:{}", name.trim())),
        Some(("agent", name)) if agents.contains_key(name.trim()) => {
            Ok(format!("agent:{}", name.trim()))
        }
        Some(("agent", name)) => Err(WorkError::UnknownAgent(
            name.trim().into(),
            if agents.is_empty() {
                "none".into()
            } else {
                agents.keys().cloned().collect::<Vec<_>>().join(", ")
            },
        )),
        _ => Err(WorkError::Assignee(s.into())),
    }
}

pub(crate) async fn audit(
    store: &Store,
    key: &AuditKey,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    now: i64,
) -> Result<(), WorkError> {
    store
        .append_audit(
            key,
            &Decision {
                at: now,
                actor,
                action,
                target,
                detail,
            },
        )
        .await?;
    Ok(())
}

/// A new work item made in the cockpit (id `W-` and eight hex digits), audited.
#[allow(clippy::too_many_arguments)]
pub async fn add(
    store: &Store,
    key: &AuditKey,
    actor: &str,
    title: &str,
    body: &str,
    repo: Option<&str>,
    assignee: Option<String>,
    now: i64,
) -> Result<WorkItem, WorkError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(WorkError::NoTitle);
    }
    // Kept as the repo's identity when it is a watched one (given by path, id or name), so
    // the item can be dispatched from any machine with a clone of it; else as given.
    let repo = match repo {
        Some(r) => Some(
            store
                .repo_named(r)
                .await?
                .map_or_else(|| r.to_string(), |k| k.id),
        ),
        None => None,
    };
    let w = WorkItem {
        id: format!(
            "W-{}",
            crate::model::error::random_hex(4, "a work item id")?
        ),
        title: title.into(),
        body: body.into(),
        repo,
        assignee,
        state: WorkState::Todo,
        source: WorkSource::Cockpit,
        labels: vec![],
        created_at: now,
        updated_at: now,
        links: vec![],
    };
    store.upsert_work_item(&w).await?;
    let to = w.assignee.as_deref().unwrap_or("nobody");
    audit(
        store,
        key,
        actor,
        "work add",
        &w.id,
        &format!("{} → {to}", w.title),
        now,
    )
    .await?;
    Ok(w)
}

/// Whether work item `w` works on change request `c`: linked to it, or to its branch (in its
/// repo, when the item names one).
pub fn works_on(w: &WorkItem, c: &crate::model::ChangeRequest) -> bool {
    w.links.iter().any(|l| {
        (l.kind == WorkLinkKind::Change && l.target == c.id)
            || (l.kind == WorkLinkKind::Branch
                && l.target == c.head
                && w.repo.as_deref().is_none_or(|r| r == c.repo))
    })
}

/// The configured agent a work item is assigned to, if it is assigned to one.
pub fn assigned_agent(w: &WorkItem) -> Option<String> {
    w.assignee
        .as_deref()
        .and_then(|a| a.strip_prefix("agent:"))
        .map(str::to_string)
}

/// Work item `id`, or `NotFound`.
pub async fn find(store: &Store, id: &str) -> Result<WorkItem, WorkError> {
    store
        .work_item(id)
        .await?
        .ok_or_else(|| WorkError::NotFound(id.into()))
}

/// Who acts, with which key, when: what every audited change of a work item carries.
pub struct Actor<'a> {
    pub key: &'a AuditKey,
    pub name: &'a str,
    pub now: i64,
}

/// Changes work item `id` with `change` (which says what it was before), stores it and audits
/// `action` with `was → now`.
async fn change(
    store: &Store,
    by: &Actor<'_>,
    id: &str,
    action: &str,
    change: impl FnOnce(&mut WorkItem) -> (String, String),
) -> Result<WorkItem, WorkError> {
    let mut w = find(store, id).await?;
    let (was, now) = change(&mut w);
    w.updated_at = by.now;
    store.upsert_work_item(&w).await?;
    let detail = format!("{was} → {now}");
    audit(store, by.key, by.name, action, id, &detail, by.now).await?;
    Ok(w)
}

/// Reassigns a work item (audited: from whom to whom). A GitHub issue's new assignee (and
/// `agent:` label) goes to GitHub through the outbox: applied once, also when offline now.
pub async fn assign(
    store: &Store,
    by: &Actor<'_>,
    id: &str,
    assignee: String,
) -> Result<WorkItem, WorkError> {
    let mut before = None;
    let w = change(store, by, id, "work assign", |w| {
        before = Some(w.clone());
        let was = w.assignee.replace(assignee.clone());
        (was.unwrap_or_else(|| "nobody".into()), assignee.clone())
    })
    .await?;
    if let Some(p) = before.and_then(|b| crate::domain::issues::reassignment(&b, &assignee)) {
        crate::domain::outbox::enqueue(store, ActionKind::Assign, id, &p, by.name, by.now).await?;
    }
    Ok(w)
}

/// Moves a work item to `state` as given (a flag, a request body): refused by name when it is
/// not one.
pub async fn set_state(
    store: &Store,
    by: &Actor<'_>,
    id: &str,
    state: &str,
) -> Result<WorkItem, WorkError> {
    let state = WorkState::parse(state).ok_or_else(|| WorkError::State(state.into()))?;
    move_to(store, by, id, state).await
}

/// Moves a work item to `state` (audited).
pub async fn move_to(
    store: &Store,
    by: &Actor<'_>,
    id: &str,
    state: WorkState,
) -> Result<WorkItem, WorkError> {
    change(store, by, id, "work state", |w| {
        let was = std::mem::replace(&mut w.state, state);
        (was.to_string(), state.to_string())
    })
    .await
}

/// Links a run, branch or change request to a work item.
pub async fn link(
    store: &Store,
    id: &str,
    kind: WorkLinkKind,
    target: &str,
    now: i64,
) -> Result<WorkItem, WorkError> {
    let mut w = find(store, id).await?;
    let l = WorkLink {
        kind,
        target: target.into(),
    };
    if !w.links.contains(&l) {
        w.links.push(l);
    }
    w.updated_at = now;
    store.upsert_work_item(&w).await?;
    Ok(w)
}

/// Agent work nobody filed: each agent branch a run worked on (not a repo's base branch)
/// becomes a work item once — titled by the run's first prompt, the task it was started for —
/// assigned to that agent and linked to its runs, branch and change, in the state its change
/// is in. So the board shows what agents were asked to do, not only what was dispatched from
/// here. The id comes from the repo and branch, so a second pass makes nothing new. Returns
/// how many were made.
pub async fn adopt_runs(store: &Store) -> Result<usize, crate::Error> {
    use sha2::{Digest, Sha256};
    use std::collections::{HashMap, HashSet};
    // Only the runs no item links yet (a team has 10,000s adopted long ago), and only what
    // concerns their branches.
    let mut runs = store.unadopted_runs().await?;
    if runs.is_empty() {
        return Ok(0);
    }
    let names: Vec<&str> = runs.iter().filter_map(|r| r.branch.as_deref()).collect();
    let claimed: HashSet<(Option<String>, String)> =
        store.branch_claims(&names).await?.into_iter().collect();
    let base: HashMap<String, String> = store
        .repos()
        .await?
        .into_iter()
        .map(|r| (r.id, r.default_branch))
        .collect();
    let pairs: Vec<(&str, &str)> = runs
        .iter()
        .filter_map(|r| Some((r.repo.as_deref()?, r.branch.as_deref()?)))
        .collect();
    let changes: HashMap<(String, String), crate::model::ChangeRequest> = store
        .local_changes_on(&pairs)
        .await?
        .into_iter()
        .map(|c| ((c.repo.clone(), c.head.clone()), c))
        .collect();
    let branches: HashSet<(String, String)> = store
        .branches()
        .await?
        .into_iter()
        .map(|b| (b.repo, b.name))
        .collect();
    runs.sort_by_key(|r| r.started_at);
    let mut made: HashMap<(String, String), WorkItem> = HashMap::new();
    for r in &runs {
        let (Some(repo), Some(branch)) = (&r.repo, &r.branch) else {
            continue;
        };
        let key = (repo.clone(), branch.clone());
        if base.get(repo) == Some(branch)
            || branch == "HEAD"
            || claimed.contains(&(Some(repo.clone()), branch.clone()))
            || claimed.contains(&(None, branch.clone()))
        {
            continue;
        }
        if let Some(w) = made.get_mut(&key) {
            // A later run on the same branch: linked to the same task.
            w.links.push(WorkLink {
                kind: WorkLinkKind::Run,
                target: r.id.clone(),
            });
            w.updated_at = w.updated_at.max(r.ended_at);
            continue;
        }
        let change = changes.get(&key);
        let state = match change.map(|c| c.state) {
            Some(ChangeState::Open) => WorkState::InReview,
            Some(ChangeState::Merged) => WorkState::Done,
            Some(ChangeState::Closed) => WorkState::Dropped,
            // No change request: still being worked on while the branch is there; a branch
            // that is gone was merged (or given up) long ago.
            None if branches.contains(&key) => WorkState::InProgress,
            None => WorkState::Done,
        };
        let digest = Sha256::digest(format!("{repo}\n{branch}").as_bytes());
        let mut links = vec![
            WorkLink {
                kind: WorkLinkKind::Run,
                target: r.id.clone(),
            },
            WorkLink {
                kind: WorkLinkKind::Branch,
                target: branch.clone(),
            },
        ];
        if let Some(c) = change {
            links.push(WorkLink {
                kind: WorkLinkKind::Change,
                target: c.id.clone(),
            });
        }
        made.insert(
            key,
            WorkItem {
                id: format!("W-{}", hex::encode(&digest[..4])),
                title: if r.title.trim().is_empty() {
                    branch.clone()
                } else {
                    r.title.clone()
                },
                body: String::new(),
                repo: Some(repo.clone()),
                assignee: Some(format!("agent:{}", r.agent)),
                state,
                source: WorkSource::Run,
                labels: vec![],
                created_at: r.started_at,
                updated_at: r.ended_at.max(r.started_at),
                links,
            },
        );
    }
    for w in made.values() {
        store.upsert_work_item(w).await?;
    }
    Ok(made.len())
}

/// Moves work items in review or in progress along with the change that carries them: done
/// when it merged (wherever it was merged: here, by hand, on the forge), dropped when it was
/// closed unmerged. An item's change is the one it links, or the local one on its branch.
/// Returns how many moved.
pub async fn follow_changes(store: &Store) -> Result<usize, crate::Error> {
    use std::collections::HashMap;
    // The items still moving, and only the changes they name (a team has 100,000s).
    let items: Vec<WorkItem> = store
        .work_items_open_or_since(i64::MAX)
        .await?
        .into_iter()
        .filter(|w| matches!(w.state, WorkState::InReview | WorkState::InProgress))
        .collect();
    let ids: Vec<String> = items
        .iter()
        .flat_map(|w| &w.links)
        .filter(|l| l.kind == WorkLinkKind::Change)
        .map(|l| l.target.clone())
        .collect();
    let pairs: Vec<(&str, &str)> = items.iter().flat_map(WorkItem::branch_links).collect();
    let mut changes = store.change_requests_with_ids(&ids).await?;
    changes.extend(store.local_changes_on(&pairs).await?);
    let by_id: HashMap<&str, &crate::model::ChangeRequest> =
        changes.iter().map(|c| (c.id.as_str(), c)).collect();
    let by_branch: HashMap<(&str, &str), &crate::model::ChangeRequest> = changes
        .iter()
        .filter(|c| c.kind == crate::model::ChangeKind::Local)
        .map(|c| ((c.repo.as_str(), c.head.as_str()), c))
        .collect();
    let mut moved = 0;
    for mut w in items {
        let change = w.links.iter().find_map(|l| match l.kind {
            WorkLinkKind::Change => by_id.get(l.target.as_str()).copied(),
            WorkLinkKind::Branch => w
                .repo
                .as_deref()
                .and_then(|r| by_branch.get(&(r, l.target.as_str())).copied()),
            WorkLinkKind::Run => None,
        });
        let Some(c) = change else { continue };
        let (state, at) = match c.state {
            ChangeState::Merged => (WorkState::Done, c.merged_at.unwrap_or(c.updated_at)),
            ChangeState::Closed => (WorkState::Dropped, c.updated_at),
            ChangeState::Open => continue,
        };
        w.state = state;
        w.updated_at = w.updated_at.max(at);
        store.upsert_work_item(&w).await?;
        moved += 1;
    }
    Ok(moved)
}
