//! Actions runs waiting on an environment's protection rule: their pending deployments listed,
//! and reviewed (approved or rejected) by the lead, as `…/actions/runs/{id}/pending_deployments`
//! does. GitHub requires the review's comment, and refuses (422) a review of an environment the
//! run no longer waits on.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::{answer, applied, gate, json_body, lookup, Hub};

impl Hub {
    /// Run `run` of `repo` waits for a review of its deployment to environment `name` (`id`).
    pub fn add_pending_deployment(&self, repo: &str, run: u64, id: i64, name: &str) {
        self.with(|i| {
            i.repos
                .entry(repo.into())
                .or_default()
                .pending
                .entry(run)
                .or_default()
                .push((id, name.into()));
        });
    }

    /// Reviews given to run `run`: (state, comment), in order.
    pub fn run_reviews(&self, repo: &str, run: u64) -> Vec<(String, String)> {
        lookup(self, repo, |r| r.run_reviews.get(&run).cloned())
    }
}

fn pending_json(full: &str, (id, name): &(i64, String)) -> Value {
    json!({
        "environment": {
            "id": id,
            "node_id": format!("EN_{id}"),
            "name": name,
            "url": format!("https://api.github.com/repos/{full}/environments/{name}"),
            "html_url": format!("https://github.com/{full}/deployments/activity_log?environments_filter={name}"),
        },
        "wait_timer": 0,
        "wait_timer_started_at": null,
        "current_user_can_approve": true,
        "reviewers": [],
    })
}

pub(crate) async fn list(
    State(hub): State<Hub>,
    Path((owner, repo, run)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let waiting = lookup(&hub, &full, |r| r.pending.get(&run).cloned());
    let items: Vec<Value> = waiting.iter().map(|p| pending_json(&full, p)).collect();
    answer(&hub, &headers, Value::Array(items), None)
}

#[derive(serde::Deserialize)]
pub(crate) struct ReviewBody {
    environment_ids: Vec<i64>,
    state: String,
    comment: Option<String>,
}

fn unprocessable(message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        json_body(
            &json!({"message": message, "documentation_url": "https://docs.github.com/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run", "status": "422"})
                .to_string(),
        ),
    )
        .into_response()
}

pub(crate) async fn review(
    State(hub): State<Hub>,
    Path((owner, repo, run)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<ReviewBody>,
) -> Response {
    let lost = match gate(&hub, &headers).await {
        Ok(lost) => lost,
        Err(r) => return r,
    };
    let full = format!("{owner}/{repo}");
    if !matches!(body.state.as_str(), "approved" | "rejected") {
        return unprocessable("state must be approved or rejected");
    }
    let Some(comment) = body.comment.filter(|c| !c.trim().is_empty()) else {
        return unprocessable("comment is required");
    };
    let reviewed = hub.with(|i| {
        let r = i.repos.get_mut(&full)?;
        let waiting = r.pending.get_mut(&run)?;
        let before = waiting.len();
        waiting.retain(|(id, _)| !body.environment_ids.contains(id));
        if waiting.len() == before {
            return None;
        }
        r.run_reviews
            .entry(run)
            .or_default()
            .push((body.state.clone(), comment.clone()));
        Some(())
    });
    if reviewed.is_none() {
        return unprocessable("No pending deployment requests to approve or reject");
    }
    let deployments = json!([{ "id": run * 10, "sha": "", "environment": "", "task": "deploy" }]);
    applied(
        &hub,
        lost,
        json_body(&deployments.to_string()).into_response(),
    )
}

/// A deployment as the test sets it up: (id, sha, environment, created_at) and its statuses
/// (state, created_at), oldest first.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub id: u64,
    pub sha: String,
    pub environment: String,
    pub created_at: String,
    pub statuses: Vec<(String, String)>,
}

impl Hub {
    pub fn add_deployment(&self, repo: &str, d: Deploy) {
        self.with(|i| i.repos.entry(repo.into()).or_default().deployments.push(d));
    }

    /// Workflow run `run` at `sha` is `waiting` (on an environment's reviewers).
    pub fn add_waiting_run(&self, repo: &str, run: u64, sha: &str, title: &str) {
        self.with(|i| {
            i.repos.entry(repo.into()).or_default().waiting_runs.push((
                run,
                sha.into(),
                title.into(),
            ));
        });
    }
}

pub(crate) async fn deployments(
    State(hub): State<Hub>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let list = lookup(&hub, &full, |r| Some(r.deployments.clone()));
    // Newest first, as GitHub lists them.
    let items: Vec<Value> = list
        .iter()
        .rev()
        .map(|d| {
            json!({
                "url": format!("https://api.github.com/repos/{full}/deployments/{}", d.id),
                "id": d.id,
                "node_id": format!("DE_{}", d.id),
                "sha": d.sha,
                "ref": "main",
                "task": "deploy",
                "payload": {},
                "original_environment": d.environment,
                "environment": d.environment,
                "description": "Deploy from CI",
                "creator": {"login": "github-actions[bot]", "type": "Bot"},
                "created_at": d.created_at,
                "updated_at": d.created_at,
                "statuses_url": format!("https://api.github.com/repos/{full}/deployments/{}/statuses", d.id),
                "transient_environment": false,
                "production_environment": d.environment == "production",
            })
        })
        .collect();
    answer(&hub, &headers, Value::Array(items), None)
}

pub(crate) async fn deployment_statuses(
    State(hub): State<Hub>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let d = lookup(&hub, &full, |r| {
        Some(r.deployments.iter().find(|d| d.id == id).cloned())
    });
    let Some(d) = d else {
        return crate::not_found();
    };
    // Newest first, as observed on GitHub.
    let items: Vec<Value> = d
        .statuses
        .iter()
        .enumerate()
        .rev()
        .map(|(n, (state, at))| {
            json!({
                "id": d.id * 10 + n as u64,
                "state": state,
                "environment": d.environment,
                "description": "",
                "created_at": at,
                "updated_at": at,
                "creator": {"login": "github-actions[bot]", "type": "Bot"},
            })
        })
        .collect();
    answer(&hub, &headers, Value::Array(items), None)
}

#[derive(serde::Deserialize)]
pub(crate) struct RunsQuery {
    status: Option<String>,
}

pub(crate) async fn runs(
    State(hub): State<Hub>,
    Path((owner, repo)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<RunsQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let waiting = lookup(&hub, &full, |r| {
        Some(
            r.waiting_runs
                .iter()
                .filter(|(run, _, _)| r.pending.get(run).is_some_and(|p| !p.is_empty()))
                .cloned()
                .collect::<Vec<_>>(),
        )
    });
    let runs: Vec<Value> = if q.status.as_deref().is_none_or(|s| s == "waiting") {
        waiting
            .iter()
            .map(|(run, sha, title)| {
                json!({
                    "id": run,
                    "name": "Deploy",
                    "head_branch": "main",
                    "head_sha": sha,
                    "display_title": title,
                    "run_number": run % 1000,
                    "event": "push",
                    "status": "waiting",
                    "conclusion": null,
                    "created_at": "2026-11-25T09:00:00Z",
                    "updated_at": "2026-11-25T09:00:00Z",
                })
            })
            .collect()
    } else {
        vec![]
    };
    answer(
        &hub,
        &headers,
        json!({"total_count": runs.len(), "workflow_runs": runs}),
        None,
    )
}
