//! Actions runs waiting on an environment's protection rule: their pending deployments listed,
//! and reviewed (approved or rejected) by the lead, as `…/actions/runs/{id}/pending_deployments`
//! does. GitHub requires the review's comment, and refuses (422) a review of an environment the
//! run no longer waits on.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::{answer, applied, gate, json_body, Hub};

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
        self.with(|i| {
            i.repos
                .get(repo)
                .and_then(|r| r.run_reviews.get(&run).cloned())
                .unwrap_or_default()
        })
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
    let waiting = hub.with(|i| {
        i.repos
            .get(&full)
            .and_then(|r| r.pending.get(&run).cloned())
            .unwrap_or_default()
    });
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
