//! One repo's sync: its open pull requests (and recently merged ones) as change requests, with
//! reviews, check runs and statuses; and which GitHub repo a local clone is.

use super::*;
use crate::model::{ChangeState, Mergeable, ReviewState};

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "an object",
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        _ => "a scalar",
    }
}

pub(super) fn fmt_time(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// `owner/repo` of a GitHub remote URL (`git@github.com:o/r.git`, `https://github.com/o/r`,
/// `ssh://git@host/o/r.git`); `host` is the forge's host (github.com, or an Enterprise host).
pub fn repo_of_remote(remote: &str, host: &str) -> Option<String> {
    let rest = remote
        .strip_prefix(&format!("git@{host}:"))
        .or_else(|| remote.strip_prefix(&format!("https://{host}/")))
        .or_else(|| remote.strip_prefix(&format!("http://{host}/")))
        .or_else(|| remote.strip_prefix(&format!("ssh://git@{host}/")))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let (owner, name) = rest.split_once('/')?;
    (!owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .then(|| format!("{owner}/{name}"))
}

/// `owner/name` on the forge at `api_url` (or github.com) of repo `repo_id`, from its `origin`
/// remote as last scanned.
pub async fn full_name_of(
    store: &Store,
    repo_id: &str,
    api_url: &str,
) -> Result<Option<String>, crate::Error> {
    Ok(store
        .repos()
        .await?
        .iter()
        .find(|r| r.id == repo_id)
        .and_then(|r| full_name(r, &forge_host(api_url))))
}

/// `owner/name` of a watched repo on the forge at `host` (or github.com), from its `origin`.
pub(crate) fn full_name(repo: &crate::model::Repo, host: &str) -> Option<String> {
    let u = repo.remote_url.as_deref()?;
    repo_of_remote(u, host).or_else(|| repo_of_remote(u, "github.com"))
}

/// The change request id of a pull request.
pub fn change_id(full_name: &str, number: u64) -> String {
    format!("github:{full_name}#{number}")
}

/// The repository and number in a pull request's change id (what [`change_id`] made).
pub fn parse_change_id(id: &str) -> Option<(&str, u64)> {
    let (full_name, number) = id.strip_prefix("github:")?.rsplit_once('#')?;
    Some((full_name, number.parse().ok()?))
}

/// What one repo's sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RepoSync {
    pub open: usize,
    /// Pull requests stored as open that GitHub no longer lists (closed or merged).
    pub closed: usize,
}

/// Refreshes `full_name`'s open pull requests (each one's details, reviews, check runs and
/// combined status) into the store as change requests of the watched repo `repo_key`.
///
/// Cheap when little changed, so many repos stay fresh within the rate limit: the list pages
/// come back as free 304s; a pull request whose `updated_at` and head are what the store has
/// is not fetched again (reviews and new commits move `updated_at`); its checks are asked for
/// again (conditionally) only while some are not completed.
pub async fn sync_repo(
    gh: &GitHub,
    store: &Store,
    full_name: &str,
    repo_key: &str,
) -> Result<RepoSync, GitHubError> {
    let list = gh
        .get_all(&format!("/repos/{full_name}/pulls?state=open&per_page=100"))
        .await?;
    let stored: HashMap<String, ChangeRequest> = store
        .change_requests()
        .await?
        .into_iter()
        .filter(|c| c.kind == ChangeKind::Github && c.repo == repo_key)
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut checks_done: HashMap<String, bool> = HashMap::new();
    for c in store.checks().await? {
        let done = checks_done.entry(c.change_request.clone()).or_insert(true);
        *done &= c.status == "completed";
    }
    let mut sync = RepoSync::default();
    let mut open_ids = Vec::new();
    let now = chrono::Utc::now().timestamp();
    for item in &list {
        let shape = |message: &str| GitHubError::Shape {
            url: format!("/repos/{full_name}/pulls"),
            message: message.into(),
        };
        let number = item["number"]
            .as_u64()
            .ok_or_else(|| shape("a pull request without a number"))?;
        let id = change_id(full_name, number);
        open_ids.push(id.clone());
        sync.open += 1;
        let listed_at = item["updated_at"]
            .as_str()
            .and_then(crate::sources::parse_ts);
        let listed_sha = item["head"]["sha"].as_str();
        // `updated_at` has one-second resolution: a pull request touched in the last minute is
        // looked at again (a free 304 when nothing changed), so a review given in the same
        // second as the last look is not missed.
        let settled = listed_at.is_some_and(|t| now - t > 60);
        // Mergeability is computed by GitHub after the first look: ask again until known.
        let known = stored.get(&id).filter(|c| {
            settled
                && c.mergeable.is_some()
                && c.state == ChangeState::Open
                && Some(c.updated_at) == listed_at
                && Some(c.head_sha.as_str()) == listed_sha
        });
        if let Some(c) = known {
            if !checks_done.get(&id).copied().unwrap_or(false) {
                for check in checks_of(gh, full_name, &c.head_sha, &id).await? {
                    store.upsert_check(&check).await?;
                }
            }
            continue;
        }
        let (pr, _) = gh
            .get(&format!("/repos/{full_name}/pulls/{number}"))
            .await?;
        let mut change = change_of(&pr, full_name, repo_key)
            .ok_or_else(|| shape("missing head, base or dates"))?;
        // The branch's first commit, when the clone here has it (cycle time's coding phase).
        change.first_commit_at = match store.repo_path(repo_key).await? {
            Some(clone) => crate::sources::git::first_commit_time(
                std::path::Path::new(&clone),
                &change.head_sha,
                &change.base,
            ),
            None => None,
        };
        for c in checks_of(gh, full_name, &change.head_sha, &id).await? {
            store.upsert_check(&c).await?;
        }
        for r in gh
            .get_all(&format!(
                "/repos/{full_name}/pulls/{number}/reviews?per_page=100"
            ))
            .await?
        {
            if let Some(review) = review_of(&r, &id) {
                store.add_review(&review).await?;
            }
        }
        // The paths, for the policy's protected paths (both sides of a rename), and the
        // patches, so the review page reads with GitHub out of reach.
        let files = gh
            .get_all(&format!(
                "/repos/{full_name}/pulls/{number}/files?per_page=100"
            ))
            .await?;
        let mut paths: Vec<String> = Vec::new();
        for f in &files {
            for k in ["filename", "previous_filename"] {
                if let Some(p) = f[k].as_str() {
                    paths.push(p.to_string());
                }
            }
        }
        store
            .set_change_files(&id, &change.head_sha, &paths)
            .await?;
        crate::forge::diff::store_files(store, &id, &change.head_sha, now, &files_of(&files))
            .await?;
        store.upsert_change_request(&change).await?;
    }
    // Stored as open but no longer listed: closed or merged since.
    for c in stored.values() {
        if c.state == ChangeState::Open && !open_ids.contains(&c.id) {
            let number = c.id.rsplit('#').next().unwrap_or_default();
            let (pr, _) = gh
                .get(&format!("/repos/{full_name}/pulls/{number}"))
                .await?;
            if let Some(now) = change_of(&pr, full_name, repo_key) {
                store.upsert_change_request(&now).await?;
                // What a squash or rebase merge put on the base, for the deploy phase.
                if let Some(sha) = pr["merge_commit_sha"]
                    .as_str()
                    .filter(|_| now.state == ChangeState::Merged)
                {
                    store.set_merge_sha(&now.id, sha).await?;
                }
                sync.closed += 1;
            }
        }
    }
    // Work first seen as a local branch (here or on another machine) is this pull request now.
    store.fold_local_changes(repo_key).await?;
    // Only changes that left the open list can have been merged: their cycle time is new.
    if sync.closed > 0 {
        crate::store::cycle::measure(store, repo_key).await?;
    }
    Ok(sync)
}

/// A pull request (the single-PR shape) as a change request; `None` when it lacks what
/// identifies one (number, head, base).
pub fn change_of(pr: &Value, full_name: &str, repo_key: &str) -> Option<ChangeRequest> {
    let number = pr["number"].as_u64()?;
    let head = pr["head"]["ref"].as_str()?.to_string();
    let login = pr["user"]["login"].as_str().unwrap_or("").to_string();
    // Agent work by branch pattern (claude/…, codex/…) or a bot account.
    let author = match agent_for_branch(&head) {
        Some(agent) => Author::Agent {
            agent: agent.into(),
        },
        None if login.ends_with("[bot]") => Author::Agent { agent: login },
        None => Author::Human { name: login },
    };
    let ts = |k: &str| pr[k].as_str().and_then(crate::sources::parse_ts);
    let state = if pr["merged"].as_bool() == Some(true) || !pr["merged_at"].is_null() {
        ChangeState::Merged
    } else if pr["state"].as_str() == Some("closed") {
        ChangeState::Closed
    } else {
        ChangeState::Open
    };
    // A count that is not a non-negative integer is not one: unknown (or 0 where required).
    let count = |k: &str| pr[k].as_i64().filter(|n| *n >= 0);
    let n = |k: &str| count(k).unwrap_or(0);
    let names = |list: &str, field: &str| -> Vec<String> {
        pr[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x[field].as_str().map(str::to_string))
            .collect()
    };
    // Teams asked to review show as `org/team`, as GitHub writes them.
    let org = full_name.split('/').next().unwrap_or_default();
    let mut requested = names("requested_reviewers", "login");
    requested.extend(
        names("requested_teams", "slug")
            .into_iter()
            .map(|t| format!("{org}/{t}")),
    );
    Some(ChangeRequest {
        id: change_id(full_name, number),
        kind: ChangeKind::Github,
        repo: repo_key.into(),
        title: pr["title"].as_str().unwrap_or("").into(),
        head,
        base: pr["base"]["ref"].as_str()?.into(),
        head_sha: pr["head"]["sha"].as_str()?.into(),
        author,
        state,
        created_at: ts("created_at")?,
        updated_at: ts("updated_at")?,
        commits: n("commits"),
        // Only a single pull request's GET carries these; the list leaves them unknown.
        files_changed: count("changed_files"),
        insertions: count("additions"),
        deletions: count("deletions"),
        agent_cost_usd: 0.0,
        labels: names("labels", "name"),
        requested_reviewers: requested,
        mergeable: mergeable_of(pr),
        merged_at: ts("merged_at"),
        first_commit_at: None,
    })
}

/// GitHub's `mergeable_state` in the cockpit's words; none while GitHub is still computing it
/// (the first look at a pull request often finds `unknown`).
pub(super) fn mergeable_of(pr: &Value) -> Option<Mergeable> {
    if pr["draft"].as_bool() == Some(true) {
        return Some(Mergeable::Draft);
    }
    match pr["mergeable_state"].as_str()? {
        "dirty" => Some(Mergeable::Conflicts),
        "clean" | "has_hooks" => Some(Mergeable::Clean),
        "unknown" => None,
        // A state GitHub adds later is not known either, rather than shown as it came.
        other => Mergeable::parse(other),
    }
}

/// A GitHub review as the store keeps reviews (pending ones are nobody's verdict yet).
pub(super) fn review_of(r: &Value, change: &str) -> Option<crate::model::Review> {
    let state = match r["state"].as_str()? {
        "APPROVED" => ReviewState::Approved,
        "CHANGES_REQUESTED" => ReviewState::ChangesRequested,
        "COMMENTED" => ReviewState::Commented,
        "DISMISSED" => ReviewState::Dismissed,
        _ => return None,
    };
    Some(crate::model::Review {
        action_key: format!("github-review:{}", r["id"].as_u64()?),
        change_request: change.into(),
        head_sha: r["commit_id"].as_str().unwrap_or("").into(),
        reviewer: r["user"]["login"].as_str()?.into(),
        state,
        body: r["body"].as_str().unwrap_or("").into(),
        at: r["submitted_at"]
            .as_str()
            .and_then(crate::sources::parse_ts)
            .unwrap_or(0),
    })
}

/// Check runs and commit statuses of `sha`, as checks of change request `id`.
pub(super) async fn checks_of(
    gh: &GitHub,
    full_name: &str,
    sha: &str,
    id: &str,
) -> Result<Vec<Check>, GitHubError> {
    let mut out = Vec::new();
    let (runs, _) = gh
        .get(&format!(
            "/repos/{full_name}/commits/{sha}/check-runs?per_page=100"
        ))
        .await?;
    for r in runs["check_runs"].as_array().into_iter().flatten() {
        out.push(Check {
            change_request: id.into(),
            name: r["name"].as_str().unwrap_or("check").into(),
            status: r["status"].as_str().unwrap_or("queued").into(),
            conclusion: r["conclusion"].as_str().map(str::to_string),
            url: r["html_url"].as_str().map(str::to_string),
            ever_failed: false,
        });
    }
    let (status, _) = gh
        .get(&format!("/repos/{full_name}/commits/{sha}/status"))
        .await?;
    for s in status["statuses"].as_array().into_iter().flatten() {
        let state = s["state"].as_str().unwrap_or("pending");
        let (st, conclusion) = match state {
            "pending" => ("in_progress", None),
            "error" => ("completed", Some("failure")),
            other => ("completed", Some(other)),
        };
        out.push(Check {
            change_request: id.into(),
            name: s["context"].as_str().unwrap_or("status").into(),
            status: st.into(),
            conclusion: conclusion.map(str::to_string),
            url: s["target_url"].as_str().map(str::to_string),
            ever_failed: false,
        });
    }
    Ok(out)
}
