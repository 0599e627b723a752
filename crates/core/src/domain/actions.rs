//! Actions as the outbox queues them, below every feature that queues one: the payload, how an
//! attempt ended (`Outcome`), what a check of the target found (`Checked`), the `Applier` trait
//! the local and GitHub appliers implement, and `enqueue`. Issues, releases and the outbox's
//! decisions build on these; the outbox (above them all) sends what is queued.

use serde::{Deserialize, Serialize};

use crate::forge::github::GitHubError;
use crate::model::error::Result;
use crate::model::{Action, ActionKind, ActionState};
use crate::store::Store;

/// What an action needs to be applied, beyond its kind and target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub repo: String,
    pub head: String,
    pub base: String,
    /// The head commit the lead reviewed; a change that moved since is not merged.
    pub sha: String,
    /// merge, squash or rebase (merges only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Why a merge goes ahead although the policy said no.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
    /// The pull request's number (GitHub targets; `repo` is then `owner/name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// Reassignments (kind `assign`, GitHub issues): logins to add and to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees_remove: Vec<String>,
    /// …and labels to add and to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels_remove: Vec<String>,
    /// An experiment stop (kind `experiment_stop`): GrowthBook's id of it, its conclusion
    /// (won, lost, inconclusive, dnf) and the variation id rolled out, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied(String),
    /// Try again later (rate limited, server error).
    Retry(String),
    /// The target's host could not be reached at all (connection refused, no DNS answer, no
    /// answer in time): try again later, and send nothing else there until it answers.
    Unreachable(String),
    /// Will not succeed as asked (conflict, moved, refused); the lead must act.
    Failed(String),
}

/// What the target says about an action tried before.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// It is done; the evidence.
    Done(String),
    /// It is certainly not done: safe to send.
    NotDone,
    /// The target could not say: neither resend nor give up; ask again later.
    Unknown(String),
    /// As `Unknown`, because the target's host could not be reached at all.
    Unreachable(String),
}

/// Something that can apply actions: the local git repos, a forge.
pub trait Applier {
    /// Whether the target already shows this action done.
    fn check(&self, a: &Action, p: &Payload) -> impl std::future::Future<Output = Checked> + Send;
    fn apply(&self, a: &Action, p: &Payload) -> impl std::future::Future<Output = Outcome> + Send;
    /// The remote host sending `a` needs (an API base URL), or none when applying it needs no
    /// network (local git, the store). The outbox pauses sending to a host found unreachable.
    fn host(&self, _a: &Action) -> Option<String> {
        None
    }
}

/// Queues an action; its key is fresh randomness, so two clicks are two decisions, but a
/// retried send of one decision is one.
pub async fn enqueue(
    store: &Store,
    kind: ActionKind,
    target: &str,
    payload: &Payload,
    actor: &str,
    now: i64,
) -> Result<Action> {
    let a = new_action(kind, target, payload, actor, None, now)?;
    store.enqueue_action(&a).await?;
    Ok(a)
}

/// A queued action, not stored yet: with `key` as its idempotency key, or a fresh one.
pub fn new_action(
    kind: ActionKind,
    target: &str,
    payload: &Payload,
    actor: &str,
    key: Option<&str>,
    now: i64,
) -> Result<Action> {
    let idempotency_key = match key {
        Some(k) => k.to_string(),
        None => crate::model::error::random_hex(16, "an idempotency key")?,
    };
    Ok(Action {
        idempotency_key,
        kind,
        target: target.into(),
        payload: serde_json::to_string(payload).unwrap_or_default(),
        actor: actor.into(),
        state: ActionState::Queued,
        attempts: 0,
        last_error: None,
        result: None,
        created_at: now,
        next_attempt_at: now,
        applied_at: None,
    })
}

/// `: <the lead's comment>` when there is one (a close's reason, kept in the audit log).
pub fn because(p: &Payload) -> String {
    p.body
        .as_deref()
        .map(|b| format!(": {b}"))
        .unwrap_or_default()
}

/// A GitHub failure as an outbox outcome: what may pass is retried, the rest is final.
pub fn outcome_of(e: GitHubError) -> Outcome {
    match e {
        GitHubError::Unreachable { .. } => Outcome::Unreachable(e.to_string()),
        GitHubError::RateLimited { .. } | GitHubError::Network { .. } => {
            Outcome::Retry(e.to_string())
        }
        GitHubError::Http { status, .. } if status >= 500 => Outcome::Retry(e.to_string()),
        GitHubError::Http {
            message, status, ..
        } => Outcome::Failed(format!("GitHub {status}: {message}")),
        other => Outcome::Retry(other.to_string()),
    }
}

/// What a failed look at GitHub says about an action: the host was not reached, or it could
/// not tell.
pub fn checked_of(e: GitHubError) -> Checked {
    match e {
        GitHubError::Unreachable { .. } => Checked::Unreachable(e.to_string()),
        other => Checked::Unknown(other.to_string()),
    }
}
