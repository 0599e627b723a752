//! GitHub issues as work items, and reassignment carried back to GitHub. Open issues of the
//! watched repos become work items (`github:OWNER/REPO#N`) with their assignee (a person by
//! login, or an agent by an `agent:NAME` label) and labels. Reassigning one queues an `assign`
//! action in the outbox — so it works offline and is applied exactly once — which changes the
//! issue's assignees and `agent:` labels through the API. GitHub silently ignores assignees
//! without push access; the answer is checked and such a reassignment fails by name.

use std::collections::HashMap;

use serde_json::Value;

use crate::domain::actions::{Checked, Outcome, Payload};
use crate::forge::github::{GitHub, GitHubError};
use crate::model::{ActionKind, ActionState, WorkItem, WorkSource, WorkState};
use crate::store::Store;

/// The label that marks work handed to agent `name`.
pub fn agent_label(name: &str) -> String {
    format!("agent:{name}")
}

/// `OWNER/REPO` and the number of a GitHub work item's id, if it is one.
pub fn issue_of(id: &str) -> Option<(&str, u64)> {
    let (full, n) = id.strip_prefix("github:")?.rsplit_once('#')?;
    Some((full, n.parse().ok()?))
}

/// Reads the open issues (not pull requests) of `full_name` into work items for the repo at
/// `repo_key`. What GitHub says wins for title, body, labels and assignee, except while a
/// reassignment of the item waits in the outbox (the lead's newer word); an issue closed since
/// is marked done. Returns how many open issues there are.
pub async fn sync_issues(
    gh: &GitHub,
    store: &Store,
    full_name: &str,
    repo_key: &str,
    now: i64,
) -> Result<usize, GitHubError> {
    let list = gh
        .get_all(&format!(
            "/repos/{full_name}/issues?state=open&per_page=100"
        ))
        .await?;
    let stored: HashMap<String, WorkItem> = store
        .work_items_from(WorkSource::Github, repo_key)
        .await?
        .into_iter()
        .filter(|w| w.source == WorkSource::Github && w.repo.as_deref() == Some(repo_key))
        .map(|w| (w.id.clone(), w))
        .collect();
    let pending: Vec<String> = store
        .actions()
        .await?
        .into_iter()
        .filter(|a| {
            a.kind == ActionKind::Assign
                && matches!(a.state, ActionState::Queued | ActionState::Sending)
        })
        .map(|a| a.target)
        .collect();
    let mut open = Vec::new();
    for item in list.iter().filter(|i| i.get("pull_request").is_none()) {
        let Some(number) = item["number"].as_u64() else {
            return Err(GitHubError::Shape {
                url: format!("/repos/{full_name}/issues"),
                message: "an issue without a number".into(),
            });
        };
        let id = format!("github:{full_name}#{number}");
        let labels = names(&item["labels"], "name");
        let assignee = names(&item["assignees"], "login")
            .first()
            .map(|l| format!("person:{l}"))
            .or_else(|| {
                labels
                    .iter()
                    .find_map(|l| l.strip_prefix("agent:"))
                    .map(|a| format!("agent:{a}"))
            });
        let was = stored.get(&id);
        let waiting = pending.contains(&id);
        let w = WorkItem {
            id: id.clone(),
            title: item["title"].as_str().unwrap_or("").into(),
            body: item["body"].as_str().unwrap_or("").into(),
            repo: Some(repo_key.into()),
            assignee: match (waiting, was) {
                (true, Some(w)) => w.assignee.clone(),
                _ => assignee,
            },
            state: was.map_or_else(|| WorkState::Todo, |w| w.state),
            source: WorkSource::Github,
            labels,
            created_at: was.map_or(now, |w| w.created_at),
            updated_at: now,
            links: was.map(|w| w.links.clone()).unwrap_or_default(),
        };
        let changed = was.is_none_or(|old| {
            (&old.title, &old.body, &old.assignee, &old.labels)
                != (&w.title, &w.body, &w.assignee, &w.labels)
        });
        if changed {
            store.upsert_work_item(&w).await?;
        }
        open.push(id);
    }
    // Gone from the open list: closed on GitHub.
    for (id, w) in &stored {
        if !open.contains(id) && !matches!(w.state, WorkState::Done | WorkState::Dropped) {
            let mut w = w.clone();
            w.state = WorkState::Done;
            w.updated_at = now;
            store.upsert_work_item(&w).await?;
        }
    }
    Ok(open.len())
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What reassigning GitHub work item `w` to `to` changes on the issue: the person assigned (a
/// login), and the `agent:` label of the agent it is handed to.
pub fn reassignment(w: &WorkItem, to: &str) -> Option<Payload> {
    let (full, number) = issue_of(&w.id)?;
    let mut p = Payload {
        repo: full.into(),
        number: Some(number),
        ..Default::default()
    };
    if let Some(old) = w
        .assignee
        .as_deref()
        .and_then(|a| a.strip_prefix("person:"))
    {
        p.assignees_remove.push(old.into());
    }
    let agent_labels = w.labels.iter().filter(|l| l.starts_with("agent:")).cloned();
    if let Some(person) = to.strip_prefix("person:") {
        p.assignees_remove.retain(|a| a != person);
        p.assignees_add.push(person.into());
        p.labels_remove.extend(agent_labels);
    } else if let Some(agent) = to.strip_prefix("agent:") {
        let label = agent_label(agent);
        p.labels_remove.extend(agent_labels.filter(|l| *l != label));
        p.labels_add.push(label);
    }
    Some(p)
}

fn issue_path(p: &Payload) -> Option<String> {
    Some(format!("/repos/{}/issues/{}", p.repo, p.number?))
}

/// Whether the issue already shows the reassignment.
pub async fn check_assign(gh: &GitHub, p: &Payload) -> Checked {
    let Some(path) = issue_path(p) else {
        return Checked::Unknown("the action names no issue number".into());
    };
    match gh.get(&path).await {
        Ok((issue, _)) => {
            let assignees = names(&issue["assignees"], "login");
            let labels = names(&issue["labels"], "name");
            let done = p.assignees_add.iter().all(|a| assignees.contains(a))
                && !p.assignees_remove.iter().any(|a| assignees.contains(a))
                && p.labels_add.iter().all(|l| labels.contains(l))
                && !p.labels_remove.iter().any(|l| labels.contains(l));
            if done {
                Checked::Done(format!("assignees: {}", list_or_none(&assignees)))
            } else {
                Checked::NotDone
            }
        }
        Err(e) => crate::domain::actions::checked_of(e),
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Changes the issue's assignees and labels. Every step may be repeated safely (adding what is
/// there, removing what is not), so a retry after a partial failure is harmless.
pub async fn apply_assign(gh: &GitHub, p: &Payload) -> Outcome {
    let Some(path) = issue_path(p) else {
        return Outcome::Failed("the action names no issue number".into());
    };
    let fail = |e: GitHubError| crate::domain::actions::outcome_of(e);
    if !p.assignees_remove.is_empty() {
        let body = serde_json::json!({ "assignees": p.assignees_remove });
        if let Err(e) = gh
            .send(reqwest::Method::DELETE, &format!("{path}/assignees"), &body)
            .await
        {
            return fail(e);
        }
    }
    let mut now_assigned = Vec::new();
    if !p.assignees_add.is_empty() {
        let body = serde_json::json!({ "assignees": p.assignees_add });
        match gh
            .send(reqwest::Method::POST, &format!("{path}/assignees"), &body)
            .await
        {
            Ok(issue) => now_assigned = names(&issue["assignees"], "login"),
            Err(e) => return fail(e),
        }
        // GitHub answers 201 without the people it cannot assign: say who, and stop.
        let ignored: Vec<&String> = p
            .assignees_add
            .iter()
            .filter(|a| !now_assigned.contains(a))
            .collect();
        if !ignored.is_empty() {
            let who: Vec<&str> = ignored.iter().map(|s| s.as_str()).collect();
            return Outcome::Failed(format!(
                "GitHub did not assign {} in {}: they cannot be assigned there (no push access?)",
                who.join(", "),
                p.repo
            ));
        }
    }
    for label in &p.labels_remove {
        let enc: String = form_urlencoded_segment(label);
        match gh
            .send(
                reqwest::Method::DELETE,
                &format!("{path}/labels/{enc}"),
                &Value::Null,
            )
            .await
        {
            Ok(_) | Err(GitHubError::Http { status: 404, .. }) => {}
            Err(e) => return fail(e),
        }
    }
    if !p.labels_add.is_empty() {
        let body = serde_json::json!({ "labels": p.labels_add });
        if let Err(e) = gh
            .send(reqwest::Method::POST, &format!("{path}/labels"), &body)
            .await
        {
            return fail(e);
        }
    }
    let mut said = Vec::new();
    if !p.assignees_add.is_empty() {
        said.push(format!("assignees: {}", list_or_none(&now_assigned)));
    } else if !p.assignees_remove.is_empty() {
        said.push(format!("unassigned {}", p.assignees_remove.join(", ")));
    }
    if !p.labels_add.is_empty() {
        said.push(format!("labelled {}", p.labels_add.join(", ")));
    }
    Outcome::Applied(said.join("; "))
}

/// A label name as one URL path segment (labels may hold spaces, `:` and `/`).
fn form_urlencoded_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(assignee: Option<&str>, labels: &[&str]) -> WorkItem {
        WorkItem {
            id: "github:acme/widgets#42".into(),
            title: "t".into(),
            body: String::new(),
            repo: None,
            assignee: assignee.map(str::to_string),
            state: WorkState::Todo,
            source: WorkSource::Github,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            created_at: 0,
            updated_at: 0,
            links: vec![],
        }
    }

    #[test]
    fn reassignment_moves_people_and_agent_labels() {
        let p = reassignment(&item(Some("person:ana"), &["bug"]), "person:bo").unwrap();
        assert_eq!((p.repo.as_str(), p.number), ("acme/widgets", Some(42)));
        assert_eq!(p.assignees_add, ["bo"]);
        assert_eq!(p.assignees_remove, ["ana"]);
        assert!(p.labels_add.is_empty() && p.labels_remove.is_empty());

        let p = reassignment(&item(Some("person:ana"), &["agent:codex"]), "agent:claude").unwrap();
        assert_eq!(p.assignees_remove, ["ana"]);
        assert_eq!(p.labels_add, ["agent:claude"]);
        assert_eq!(p.labels_remove, ["agent:codex"]);

        let p = reassignment(&item(Some("agent:claude"), &["agent:claude"]), "person:ana").unwrap();
        assert_eq!(p.assignees_add, ["ana"]);
        assert_eq!(p.labels_remove, ["agent:claude"]);

        let mut local = item(None, &[]);
        local.id = "W-1234abcd".into();
        assert!(reassignment(&local, "person:ana").is_none());
        assert_eq!(issue_of("github:a/b#7"), Some(("a/b", 7)));
        assert_eq!(
            form_urlencoded_segment("needs review/x"),
            "needs%20review%2Fx"
        );
    }
}
