//! Issues: listed (pull requests among them, as on GitHub, marked by `pull_request`), read,
//! and their assignees and labels changed. As on GitHub, adding an assignee who cannot be
//! assigned in the repo (no push access) is silently ignored: the answer is 201 with the issue
//! as it now is, without them.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::{answer, applied, gate, json_body, lookup, not_found, Hub, ListQuery};

/// An issue as the test sets it up.
#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub state: String,
    pub assignees: Vec<String>,
    pub labels: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Set with `state: "closed"`.
    pub closed_at: Option<String>,
}

impl Issue {
    pub fn new(number: u64, title: &str, body: &str) -> Self {
        Issue {
            number,
            title: title.into(),
            body: body.into(),
            author: "dev-alice".into(),
            state: "open".into(),
            assignees: vec![],
            labels: vec![],
            created_at: "2026-11-20T09:00:00Z".into(),
            updated_at: "2026-11-20T09:00:00Z".into(),
            closed_at: None,
        }
    }
}

fn user(login: &str) -> Value {
    json!({
        "login": login,
        "id": 1000 + login.len(),
        "type": "User",
        "site_admin": false,
        "url": format!("https://api.github.com/users/{login}"),
        "html_url": format!("https://github.com/{login}"),
    })
}

fn issue_json(full: &str, i: &Issue) -> Value {
    json!({
        "url": format!("https://api.github.com/repos/{full}/issues/{}", i.number),
        "html_url": format!("https://github.com/{full}/issues/{}", i.number),
        "number": i.number,
        "state": i.state,
        "title": i.title,
        "body": i.body,
        "user": user(&i.author),
        "assignee": i.assignees.first().map(|a| user(a)),
        "assignees": i.assignees.iter().map(|a| user(a)).collect::<Vec<_>>(),
        "labels": i.labels.iter().map(|l| json!({
            "name": l,
            "url": format!("https://api.github.com/repos/{full}/labels/{l}"),
        })).collect::<Vec<_>>(),
        "comments": 0,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
    })
}

fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Hub {
    pub fn add_issue(&self, repo: &str, issue: Issue) {
        self.with(|i| {
            let r = i.repos.entry(repo.into()).or_default();
            r.issues.retain(|x| x.number != issue.number);
            r.issues.push(issue);
        });
    }

    pub fn issue(&self, repo: &str, number: u64) -> Option<Issue> {
        lookup(self, repo, |r| {
            Some(r.issues.iter().find(|x| x.number == number).cloned())
        })
    }

    /// People who can be assigned in `repo` (push access); others are ignored as on GitHub.
    pub fn add_collaborator(&self, repo: &str, login: &str) {
        self.with(|i| {
            i.repos
                .entry(repo.into())
                .or_default()
                .collaborators
                .insert(login.into());
        });
    }

    /// Assignee additions applied to an issue (a second would be a double application).
    pub fn assignee_posts(&self, repo: &str, number: u64) -> u32 {
        lookup(self, repo, |r| r.assignee_posts.get(&number).copied())
    }
}

pub(crate) async fn list(
    State(hub): State<Hub>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let want = q.state.unwrap_or_else(|| "open".into());
    let (mut issues, pulls) = lookup(&hub, &full, |r| Some((r.issues.clone(), r.pulls.clone())));
    issues.retain(|x| want == "all" || x.state == want);
    let labels: Vec<&str> = q
        .labels
        .as_deref()
        .map(|l| l.split(',').filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    issues.retain(|x| labels.iter().all(|l| x.labels.iter().any(|have| have == l)));
    let mut out: Vec<Value> = issues.iter().map(|x| issue_json(&full, x)).collect();
    // Pull requests are issues too on this endpoint.
    // These pull requests carry no labels.
    for p in pulls
        .iter()
        .filter(|_| labels.is_empty())
        .filter(|p| want == "all" || (want == "open") == (p.state == "open"))
    {
        let mut v = issue_json(&full, &Issue::new(p.number, &p.title, ""));
        v["pull_request"] = json!({
            "url": format!("https://api.github.com/repos/{full}/pulls/{}", p.number),
        });
        out.push(v);
    }
    out.sort_by_key(|v| std::cmp::Reverse(v["number"].as_u64().unwrap_or(0)));
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let items: Vec<Value> = out
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    answer(&hub, &headers, Value::Array(items), None)
}

pub(crate) async fn one(
    State(hub): State<Hub>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let full = format!("{owner}/{repo}");
    match hub.issue(&full, number) {
        Some(i) => answer(&hub, &headers, issue_json(&full, &i), None),
        None => not_found(),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct Assignees {
    assignees: Vec<String>,
}

#[derive(serde::Deserialize)]
pub(crate) struct Labels {
    labels: Vec<String>,
}

/// Changes issue `number` with `f` (which says whether it counts as an assignee addition),
/// then answers `status` with the issue — or the fault's lost answer.
async fn change(
    hub: &Hub,
    headers: &HeaderMap,
    full: &str,
    number: u64,
    status: StatusCode,
    f: impl FnOnce(&mut Issue, &BTreeSet<String>),
) -> Response {
    let lost = match gate(hub, headers).await {
        Ok(lost) => lost,
        Err(r) => return r,
    };
    let changed = hub.with(|i| {
        let r = i.repos.get_mut(full)?;
        let collaborators = r.collaborators.clone();
        let issue = r.issues.iter_mut().find(|x| x.number == number)?;
        f(issue, &collaborators);
        issue.updated_at = now_text();
        Some(issue.clone())
    });
    match changed {
        Some(i) => applied(
            hub,
            lost,
            (status, json_body(&issue_json(full, &i).to_string())).into_response(),
        ),
        None => not_found(),
    }
}

pub(crate) async fn add_assignees(
    State(hub): State<Hub>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Assignees>,
) -> Response {
    let full = format!("{owner}/{repo}");
    let r = change(
        &hub,
        &headers,
        &full,
        number,
        StatusCode::CREATED,
        |issue, can| {
            for a in body.assignees.iter().take(10) {
                if can.contains(a) && !issue.assignees.contains(a) {
                    issue.assignees.push(a.clone());
                }
            }
        },
    )
    .await;
    if r.status() != StatusCode::NOT_FOUND && r.status() != StatusCode::UNAUTHORIZED {
        hub.with(|i| {
            if let Some(repo) = i.repos.get_mut(&full) {
                *repo.assignee_posts.entry(number).or_default() += 1;
            }
        });
    }
    r
}

pub(crate) async fn remove_assignees(
    State(hub): State<Hub>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Assignees>,
) -> Response {
    let full = format!("{owner}/{repo}");
    change(&hub, &headers, &full, number, StatusCode::OK, |issue, _| {
        issue.assignees.retain(|a| !body.assignees.contains(a));
    })
    .await
}

pub(crate) async fn add_labels(
    State(hub): State<Hub>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Labels>,
) -> Response {
    let full = format!("{owner}/{repo}");
    change(&hub, &headers, &full, number, StatusCode::OK, |issue, _| {
        for l in body.labels {
            if !issue.labels.contains(&l) {
                issue.labels.push(l);
            }
        }
    })
    .await
}

pub(crate) async fn remove_label(
    State(hub): State<Hub>,
    Path((owner, repo, number, name)): Path<(String, String, u64, String)>,
    headers: HeaderMap,
) -> Response {
    let full = format!("{owner}/{repo}");
    change(&hub, &headers, &full, number, StatusCode::OK, |issue, _| {
        issue.labels.retain(|l| *l != name);
    })
    .await
}
