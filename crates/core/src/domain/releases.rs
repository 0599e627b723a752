//! Releases: a candidate commit for an environment, i.e. every change it brings over the last
//! successful deploy there, with the risk signals a lead weighs, and the lead's decision. A
//! decision is a signed audit entry at once (verifiable by anyone with the lead's public key,
//! `flightdeck audit verify`) and, when a GitHub Actions run waits on the environment's
//! protection rule, an outbox action that approves or rejects that run's pending deployment —
//! so a lead on a plane decides now and GitHub hears it once, when the network is back.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;
use ts_rs::TS;

use crate::domain::actions::{Checked, Outcome, Payload};
use crate::model::audit::{AuditKey, Decision};
use crate::model::{ActionKind, Commit, Release, ReleaseState, ReviewState};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("no release `{0}`; `flightdeck release list` shows them")]
    NotFound(String),
    #[error("release {0} is {1}, not pending")]
    NotPending(String, ReleaseState),
    #[error("release {0} names no candidate commit")]
    NoSha(String),
    #[error("a rejection needs a reason (--reason)")]
    NeedsReason,
    #[error("{0}")]
    Signature(#[from] crate::model::device::SignatureError),
    #[error("{0}")]
    NotAllowed(#[from] crate::domain::team::Refusal),
    #[error("repo `{0}` has no clone on this machine to read the release from (`flightdeck repo add PATH`)")]
    NoClone(String),
    #[error("git in {0}: {1}")]
    Git(String, git2::Error),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// A change in a release, with what makes it risky.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReleaseChange {
    pub id: String,
    pub title: String,
    /// agent or human.
    pub author_kind: String,
    pub agent_cost_usd: f64,
    pub signals: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReleaseDetail {
    pub release: Release,
    /// The sha of the last successful deploy to the environment it is measured against.
    pub since: Option<String>,
    pub commits: Vec<Commit>,
    pub changes: Vec<ReleaseChange>,
    /// Signals of the release as a whole (agent commits without a human review, …).
    pub signals: Vec<String>,
    /// No signal: nothing holds it back.
    pub clear: bool,
}

/// The release with its commits, changes and risk signals.
pub async fn detail(store: &Store, id: &str) -> Result<ReleaseDetail, ReleaseError> {
    let release = find(store, id).await?;
    let sha = release
        .sha
        .clone()
        .ok_or_else(|| ReleaseError::NoSha(id.into()))?;
    let since = store
        .last_success(&release.repo, &release.environment, None)
        .await?
        .map(|d| d.sha);
    let repo = store
        .repo_path(&release.repo)
        .await?
        .ok_or_else(|| ReleaseError::NoClone(release.repo.clone()))?;
    let (s, prev) = (sha.clone(), since.clone());
    // Graph order, newest first (commit times can tie or lie).
    let order: Vec<String> = tokio::task::spawn_blocking(move || {
        crate::domain::deploys::contents(Path::new(&repo), &s, prev.as_deref())
    })
    .await
    .map_err(|e| ReleaseError::Git(release.repo.clone(), git2::Error::from_str(&e.to_string())))?
    .map_err(|e| ReleaseError::Git(release.repo.clone(), e))?;
    let shas: HashSet<String> = order.iter().cloned().collect();
    let mut commits = store.commits_with(&release.repo, &order).await?;
    let rank: std::collections::HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    commits.sort_by_key(|c| rank.get(c.sha.as_str()).copied());
    // The changes whose head the release holds, with their reviews and checks, read by key.
    let mut changes_in = Vec::new();
    let (mut reviews, mut checks) = (Vec::new(), Vec::new());
    for id in store.change_ids_shipping(&release.repo, &order).await? {
        let Some(c) = store.change_request(&id).await? else {
            continue;
        };
        if shas.contains(&c.head_sha) {
            reviews.extend(store.reviews_of(&id).await?);
            checks.extend(store.checks_of(&id).await?);
            changes_in.push(c);
        }
    }
    let mut costs: Vec<f64> = changes_in.iter().map(|c| c.agent_cost_usd).collect();
    costs.sort_by(f64::total_cmp);
    let median = costs.get(costs.len() / 2).copied().unwrap_or(0.0);
    // Experiments whose guardrails are breached now: a change that put one in code ships
    // more of it.
    let mut linked = Vec::new();
    for c in &changes_in {
        linked.push(store.experiments_of_change(&c.id).await?);
    }
    let breaches = if linked.iter().all(Vec::is_empty) {
        Vec::new()
    } else {
        crate::domain::experiments::guardrail_breaches(store, chrono::Utc::now().timestamp())
            .await?
    };
    let mut changes = Vec::new();
    for (c, experiments) in changes_in.iter().zip(&linked) {
        let mut signals = Vec::new();
        if !breaches.is_empty() {
            for e in experiments {
                for b in breaches.iter().filter(|b| &b.experiment == e) {
                    signals.push(format!(
                        "ships experiment {}, whose guardrail is breached: {}",
                        b.name,
                        b.describe()
                    ));
                }
            }
        }
        let agent = matches!(c.author, crate::model::Author::Agent { .. });
        let human_approvals = reviews
            .iter()
            .filter(|r| r.change_request == c.id && r.state == ReviewState::Approved)
            .count();
        if agent && human_approvals < 2 {
            signals.push(format!(
                "agent-authored with {human_approvals} human approval(s), no second review"
            ));
        }
        let mine = checks.iter().filter(|k| k.change_request == c.id);
        let failing: Vec<&str> = mine
            .clone()
            .filter(|k| k.failed())
            .map(|k| k.name.as_str())
            .collect();
        if !failing.is_empty() {
            signals.push(format!("failing check(s): {}", failing.join(", ")));
        }
        // Green now after failing: flaky, or fixed by a push the reviewers may not have seen.
        let fixed: Vec<&str> = mine
            .filter(|k| k.ever_failed && !k.failed())
            .map(|k| k.name.as_str())
            .collect();
        if !fixed.is_empty() {
            signals.push(format!(
                "check(s) failed, later fixed: {}",
                fixed.join(", ")
            ));
        }
        if median > 0.0 && c.agent_cost_usd > 3.0 * median && c.agent_cost_usd > 1.0 {
            signals.push(format!(
                "cost outlier: ${:.2}, over 3x the release's median ${median:.2}",
                c.agent_cost_usd
            ));
        }
        changes.push(ReleaseChange {
            id: c.id.clone(),
            title: c.title.clone(),
            author_kind: if agent { "agent" } else { "human" }.into(),
            agent_cost_usd: c.agent_cost_usd,
            signals,
        });
    }
    let mut signals = Vec::new();
    let reviewed: HashSet<&str> = changes_in
        .iter()
        .filter(|c| {
            reviews
                .iter()
                .any(|r| r.change_request == c.id && r.state == ReviewState::Approved)
        })
        .flat_map(|c| [c.head_sha.as_str()])
        .collect();
    let unreviewed_agent = commits
        .iter()
        .filter(|c| c.agent.is_some() && !reviewed.contains(c.sha.as_str()))
        .count();
    if unreviewed_agent > 0 {
        signals.push(format!(
            "{unreviewed_agent} agent commit(s) not at the head of an approved change"
        ));
    }
    if commits.is_empty() {
        signals.push("nothing new over what is deployed".into());
    }
    let clear = signals.is_empty() && changes.iter().all(|c| c.signals.is_empty());
    Ok(ReleaseDetail {
        release,
        since,
        commits,
        changes,
        signals,
        clear,
    })
}

/// One release by id (`NotFound` names it).
pub async fn find(store: &Store, id: &str) -> Result<Release, ReleaseError> {
    store
        .releases()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ReleaseError::NotFound(id.into()))
}

/// The statement a decision signs (in its audit entry): what was decided on, exactly.
pub fn statement(r: &Release, approve: bool, reason: &str) -> String {
    format!(
        "{} release {} ({}) of {} at {} for {}: {}",
        if approve { "approved" } else { "rejected" },
        r.name,
        r.id,
        r.repo,
        r.sha.as_deref().unwrap_or("?"),
        r.environment,
        if reason.is_empty() { "-" } else { reason }
    )
}

/// Approves or rejects a pending release: recorded and signed in the audit log now, and — when
/// a GitHub run waits on the environment — queued for GitHub through the outbox (`github` is
/// the repo's `owner/name` there). A decision from a paired device (`device`) must carry its
/// signature of this decision; it goes into the audit log beside the decision.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    store: &Store,
    key: &AuditKey,
    by: crate::domain::team::Acting<'_>,
    id: &str,
    approve: bool,
    reason: &str,
    github: Option<&str>,
    device: Option<&crate::model::device::DeviceDecision>,
    now: i64,
) -> Result<Release, ReleaseError> {
    let kind_name = if approve {
        "release_approve"
    } else {
        "release_reject"
    };
    let mut r = find(store, id).await?;
    by.team.may_decide_release(by.person, &r.environment)?;
    let actor = by.person.name.as_str();
    // A device signs the candidate commit it was shown: a release whose commit changed since
    // is not decided on its word.
    if let Some(dd) = device {
        let mut expected = crate::model::device::Statement::of(kind_name, id);
        expected.comment = Some(reason.to_string());
        expected.head = r.sha.clone();
        crate::model::device::check_decision(&dd.by.key, &dd.signed, &expected)?;
    }
    // The same decision again (a phone resending what it decided offline, its answer lost):
    // it stands as taken, nothing new is queued or signed.
    let same = if approve {
        ReleaseState::Approved
    } else {
        ReleaseState::Rejected
    };
    if r.state == same {
        return Ok(r);
    }
    if r.state != ReleaseState::Pending {
        return Err(ReleaseError::NotPending(r.id, r.state));
    }
    if !approve && reason.trim().is_empty() {
        return Err(ReleaseError::NeedsReason);
    }
    r.state = if approve {
        ReleaseState::Approved
    } else {
        ReleaseState::Rejected
    };
    r.approved_by = Some(actor.into());
    r.decided_at = Some(now);
    r.reason = (!reason.trim().is_empty()).then(|| reason.trim().to_string());
    store.upsert_release(&r).await?;
    let kind = if approve {
        ActionKind::ReleaseApprove
    } else {
        ActionKind::ReleaseReject
    };
    store
        .append_audit(
            key,
            &Decision {
                at: now,
                actor,
                action: if approve {
                    "release approve"
                } else {
                    "release reject"
                },
                target: &r.id,
                detail: &statement(&r, approve, reason.trim()),
            },
        )
        .await?;
    if let Some(dd) = device {
        crate::domain::access::record_signed(store, key, dd, &r.id, kind_name, now).await?;
    }
    if let (Some(run), Some(full)) = (r.run_id, github) {
        let p = Payload {
            repo: full.into(),
            number: Some(run as u64),
            method: Some(r.environment.clone()),
            body: Some(format!(
                "{} by {actor} in Flightdeck{}",
                if approve { "Approved" } else { "Rejected" },
                r.reason
                    .as_deref()
                    .map(|why| format!(": {why}"))
                    .unwrap_or_default()
            )),
            ..Default::default()
        };
        let target = format!("github:{full}#run-{run}");
        crate::domain::actions::enqueue(store, kind, &target, &p, actor, now).await?;
    }
    Ok(r)
}

fn runs_path(p: &Payload) -> Option<String> {
    Some(format!(
        "/repos/{}/actions/runs/{}/pending_deployments",
        p.repo, p.number?
    ))
}

/// The environments the run still waits on.
async fn waiting(
    gh: &crate::forge::github::GitHub,
    path: &str,
) -> Result<Vec<(i64, String)>, crate::forge::github::GitHubError> {
    let (list, _) = gh.get(path).await?;
    Ok(list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some((
                        p["environment"]["id"].as_i64()?,
                        p["environment"]["name"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Done when the run no longer waits on the environment (reviewed — by this action, or by
/// someone else first, which settles it just the same).
pub async fn check_review(gh: &crate::forge::github::GitHub, p: &Payload) -> Checked {
    let (Some(path), Some(env)) = (runs_path(p), p.method.as_deref()) else {
        return Checked::Unknown("the action names no run or environment".into());
    };
    match waiting(gh, &path).await {
        Ok(envs) if envs.iter().any(|(_, n)| n == env) => Checked::NotDone,
        Ok(_) => Checked::Done(format!("the run no longer waits on {env}")),
        Err(e) => crate::domain::actions::checked_of(e),
    }
}

/// Reviews the run's pending deployment to the environment (GitHub requires the comment).
pub async fn apply_review(
    gh: &crate::forge::github::GitHub,
    kind: ActionKind,
    p: &Payload,
) -> Outcome {
    let (Some(path), Some(env)) = (runs_path(p), p.method.as_deref()) else {
        return Outcome::Failed("the action names no run or environment".into());
    };
    let envs = match waiting(gh, &path).await {
        Ok(e) => e,
        Err(e) => return crate::domain::actions::outcome_of(e),
    };
    let Some((env_id, _)) = envs.iter().find(|(_, n)| n == env) else {
        return Outcome::Applied(format!("the run no longer waits on {env}"));
    };
    let state = if kind == ActionKind::ReleaseApprove {
        "approved"
    } else {
        "rejected"
    };
    let body = serde_json::json!({
        "environment_ids": [env_id],
        "state": state,
        "comment": p.body.clone().unwrap_or_else(|| "Reviewed in Flightdeck".into()),
    });
    match gh.send(reqwest::Method::POST, &path, &body).await {
        Ok(_) => Outcome::Applied(format!("{state} the deployment to {env}")),
        Err(e) => crate::domain::actions::outcome_of(e),
    }
}

/// Workflow runs of `full_name` waiting on an environment's reviewers become pending releases
/// of the repo at `repo_key` (one per run and environment), so a lead can approve them here.
pub async fn sync_waiting_runs(
    gh: &crate::forge::github::GitHub,
    store: &Store,
    full_name: &str,
    repo_key: &str,
    now: i64,
) -> Result<usize, crate::forge::github::GitHubError> {
    let (runs, _) = gh
        .get(&format!(
            "/repos/{full_name}/actions/runs?status=waiting&per_page=100"
        ))
        .await?;
    let known: HashSet<String> = store.releases().await?.into_iter().map(|r| r.id).collect();
    let mut n = 0;
    for run in runs["workflow_runs"].as_array().into_iter().flatten() {
        let (Some(id), Some(sha)) = (run["id"].as_i64(), run["head_sha"].as_str()) else {
            continue;
        };
        let path = format!("/repos/{full_name}/actions/runs/{id}/pending_deployments");
        for (_, env) in waiting(gh, &path).await? {
            let rid = format!("github:{full_name}:run-{id}:{env}");
            if known.contains(&rid) {
                continue;
            }
            let title = run["display_title"].as_str().unwrap_or("workflow run");
            store
                .upsert_release(&Release {
                    id: rid,
                    repo: repo_key.into(),
                    environment: env,
                    name: format!("{title} (run {id})"),
                    state: ReleaseState::Pending,
                    created_at: now,
                    approved_by: None,
                    sha: Some(sha.into()),
                    run_id: Some(id),
                    decided_at: None,
                    reason: None,
                })
                .await?;
            n += 1;
        }
    }
    Ok(n)
}

const SIGNER: &str = "Flightdeck-Signer: ";
const SIGNATURE: &str = "Flightdeck-Signature: ";

/// An annotated git tag named after an approved release, at its commit, whose message is the
/// approval statement signed with the lead's key: the approval travels with the repo (push the
/// tag) and `verify_tag` checks it anywhere.
pub fn tag_release(
    repo: &Path,
    r: &Release,
    key: &AuditKey,
    tagger: (&str, &str),
) -> Result<String, ReleaseError> {
    let shown = repo.display().to_string();
    let git = |e| ReleaseError::Git(shown.clone(), e);
    let sha = r
        .sha
        .clone()
        .ok_or_else(|| ReleaseError::NoSha(r.id.clone()))?;
    let statement = statement(r, true, r.reason.as_deref().unwrap_or(""));
    let message = format!(
        "{statement}\n\n{SIGNER}{}\n{SIGNATURE}{}\n",
        key.public_hex(),
        key.sign(&statement)
    );
    let g = git2::Repository::open(repo).map_err(git)?;
    let target = g
        .find_object(git2::Oid::from_str(&sha).map_err(git)?, None)
        .map_err(git)?;
    let sig = git2::Signature::now(tagger.0, tagger.1).map_err(git)?;
    g.tag(&r.name, &target, &sig, &message, false)
        .map_err(git)?;
    Ok(r.name.clone())
}

/// Checks tag `name`: its message is a statement signed by one of `trusted` (hex public keys),
/// and the statement names the commit the tag points at. Returns the statement.
pub fn verify_tag(repo: &Path, name: &str, trusted: &[String]) -> Result<String, String> {
    let g = git2::Repository::open(repo).map_err(|e| format!("{}: {e}", repo.display()))?;
    let tag = g
        .revparse_single(&format!("refs/tags/{name}"))
        .and_then(|o| o.peel_to_tag())
        .map_err(|_| format!("no annotated tag `{name}`"))?;
    let message = tag.message().unwrap_or("");
    let (statement, trailer) = message
        .split_once(&format!("\n\n{SIGNER}"))
        .ok_or("the tag carries no Flightdeck signature")?;
    let mut lines = trailer.lines();
    let signer = lines.next().unwrap_or("").trim();
    let signature = lines
        .next()
        .and_then(|l| l.strip_prefix(SIGNATURE))
        .ok_or("the tag's signature line is missing")?
        .trim();
    if !trusted.iter().any(|k| k == signer) {
        return Err(format!(
            "signed by {}, a key not trusted here",
            crate::model::audit::short(signer)
        ));
    }
    crate::model::audit::verify_signed(signer, signature, statement)
        .map_err(|why| format!("the approval {why}"))?;
    let target = tag.target_id().to_string();
    if !statement.contains(&format!(" at {target} ")) {
        return Err(format!(
            "the tag points at {}, not the commit that was approved",
            &target[..12]
        ));
    }
    Ok(statement.to_string())
}
