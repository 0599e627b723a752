//! Deploys: recorded from any pipeline (`flightdeck deploy record`, `POST /api/deploys`) or a
//! forge, and what each one shipped, exactly, from the local commit graph: the commits
//! reachable from its sha and not from the previous successful deploy to the same environment.
//! No time windows: a commit merged an hour before a deploy but not in its sha is not in it, a
//! cherry-pick is the commit that was deployed, and a merge brings its whole branch.

use std::path::Path;

use git2::{Oid, Repository};

use crate::model::{Commit, DeployStatus, Deployment, ReviewState};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("`{0}` is not a deploy status (success, failure, in_progress, queued)")]
    Status(String),
    #[error("a deploy needs an environment (--env)")]
    NoEnvironment,
    #[error("`{0}` is not a watched repo (`flightdeck repo add PATH`)")]
    UnknownRepo(String),
    #[error(
        "several repos are watched ({0}): say which with --repo (or \"repo\" in the webhook body)"
    )]
    WhichRepo(String),
    #[error(
        "`{sha}` is not a commit in {repo} (a full 40-digit sha is taken before it is fetched)"
    )]
    UnknownSha { sha: String, repo: String },
    #[error("`at` is {0}: a deploy's time is Unix seconds from 1970 to a day from now")]
    Time(i64),
    #[error("git in {0}: {1}")]
    Git(String, git2::Error),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// A deploy as a pipeline reports it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The repo's path or name; may be left out when one repo is watched.
    #[serde(default)]
    pub repo: Option<String>,
    pub environment: String,
    /// A commit: full or abbreviated sha, or any revision git understands.
    pub sha: String,
    pub status: String,
    /// Unix seconds; default now.
    #[serde(default)]
    pub at: Option<i64>,
    /// The pipeline's own id for the deploy: a second report with the same id updates it (a
    /// deploy that was in progress and then succeeded). Default: environment, sha and time.
    #[serde(default)]
    pub id: Option<String>,
}

/// Records a deploy and works out what it shipped (and what the next successful deploy to
/// that environment shipped, which may have changed), and the deploy phase of the changes it
/// shipped.
pub async fn record(
    store: &Store,
    r: &Record,
    source: &str,
    now: i64,
) -> Result<Deployment, DeployError> {
    let d = record_contents(store, r, source, now).await?;
    crate::store::cycle::measure(store, &d.repo).await?;
    Ok(d)
}

/// `record` without the cycle-time measure, for a sync that records many and measures once.
async fn record_contents(
    store: &Store,
    r: &Record,
    source: &str,
    now: i64,
) -> Result<Deployment, DeployError> {
    let status =
        DeployStatus::parse(&r.status).ok_or_else(|| DeployError::Status(r.status.clone()))?;
    let env = r.environment.trim();
    if env.is_empty() {
        return Err(DeployError::NoEnvironment);
    }
    let at = r.at.unwrap_or(now);
    if !plausible_time(at, now) {
        return Err(DeployError::Time(at));
    }
    let repo = pick_repo(store, r.repo.as_deref()).await?;
    let sha = resolve(repo.path.as_deref().map(Path::new), &repo.id, &r.sha)?;
    let d = Deployment {
        id: r
            .id
            .clone()
            .unwrap_or_else(|| format!("{source}:{env}:{}:{at}", &sha[..sha.len().min(12)])),
        repo: repo.id.clone(),
        environment: env.into(),
        sha,
        status,
        created_at: at,
        source: source.into(),
        contents: crate::model::Contents::Unknown,
    };
    store.upsert_deployment(&d).await?;
    refresh_contents(store, &d.repo, &d.environment, Some((d.created_at, &d.id))).await?;
    Ok(store.deployment(&d.id).await?.unwrap_or(d))
}

/// Whether a reported time (a deploy's, an incident's) can be true: from 1970 up to a day
/// ahead of `now` (clocks drift). Anything else is a reporter's mistake, and would overflow
/// the lead times and durations measured from it.
pub fn plausible_time(t: i64, now: i64) -> bool {
    (0..=now.saturating_add(86_400)).contains(&t)
}

/// The watched repo `want` names (path or name), or, when none is named, the only one watched.
pub async fn pick_repo(
    store: &Store,
    want: Option<&str>,
) -> Result<crate::model::Repo, DeployError> {
    if let Some(want) = want {
        return store
            .repo_named(want)
            .await?
            .ok_or_else(|| DeployError::UnknownRepo(want.into()));
    }
    let mut repos = store.repos().await?;
    match repos.len() {
        1 => Ok(repos.remove(0)),
        0 => Err(DeployError::UnknownRepo("(none watched)".into())),
        _ => {
            let names: Vec<&str> = repos.iter().map(|x| x.name.as_str()).collect();
            Err(DeployError::WhichRepo(names.join(", ")))
        }
    }
}

/// `rev` as a full sha: resolved in this machine's clone, or taken as given when it is a full sha
/// the clone does not have yet (its contents wait until it is fetched) or there is no clone here.
fn resolve(clone: Option<&Path>, repo: &str, rev: &str) -> Result<String, DeployError> {
    let shown = clone.map_or_else(|| repo.to_string(), |p| p.display().to_string());
    let found = match clone {
        Some(path) => {
            let r = Repository::open(path).map_err(|e| DeployError::Git(shown.clone(), e))?;
            let found = r
                .revparse_single(rev)
                .and_then(|o| o.peel_to_commit())
                .map(|c| c.id().to_string());
            found
        }
        None => Err(git2::Error::from_str("no clone on this machine")),
    };
    match found {
        Ok(sha) => Ok(sha),
        Err(_) if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(rev.to_ascii_lowercase())
        }
        Err(_) => Err(DeployError::UnknownSha {
            sha: rev.into(),
            repo: shown,
        }),
    }
}

/// The commits `sha` brings over `previous` (all of its history when there is none), newest
/// first.
pub fn contents(
    repo: &Path,
    sha: &str,
    previous: Option<&str>,
) -> Result<Vec<String>, git2::Error> {
    let r = Repository::open(repo)?;
    let mut walk = r.revwalk()?;
    walk.push(Oid::from_str(sha)?)?;
    if let Some(p) = previous {
        // A previous deploy the clone does not have hides nothing rather than failing.
        if let Ok(oid) = Oid::from_str(p) {
            if r.find_commit(oid).is_ok() {
                walk.hide(oid)?;
            }
        }
    }
    walk.map(|o| o.map(|o| o.to_string())).collect()
}

/// Recomputes what the deploys to `env` of `repo` shipped, in time order: each against the
/// last successful deploy before it. With `from` (a deploy's time and id), only that deploy and
/// those after it up to the next successful one — the only ones it can change. Deploys whose
/// sha the clone lacks stay `unknown`.
pub async fn refresh_contents(
    store: &Store,
    repo: &str,
    env: &str,
    from: Option<(i64, &str)>,
) -> Result<(), DeployError> {
    // Only the deploys from `from` on, measured against the last success before it.
    let mut previous: Option<String> = store.last_success(repo, env, from).await?.map(|d| d.sha);
    for d in &store.deployments_of(repo, env, from).await? {
        let here = (d.created_at, d.id.as_str());
        compute(store, repo, d, previous.clone()).await?;
        // Past the new deploy, the first success is the last one it can change.
        if d.status == DeployStatus::Success && from.is_some_and(|f| here > f) {
            break;
        }
        if d.status == DeployStatus::Success {
            previous = Some(d.sha.clone());
        }
    }
    Ok(measure(store, repo, env).await?)
}

/// Whether a commit summary undoes or patches an earlier change (a revert or a hotfix).
pub fn is_fix(summary: &str) -> bool {
    let s = summary.trim_start().to_ascii_lowercase();
    s.starts_with("revert \"") || s.starts_with("hotfix")
}

/// Measures the deploys of `repo` to `env` from their stored contents, for DORA: per deploy
/// whether it ships a fix and how soon after the previous finished deploy, and the lead-time
/// span of every commit at the first successful deploy that shipped it (`store::spans`).
/// Commits the store does not hold yet are measured when a scan brings them.
pub async fn measure(store: &Store, repo: &str, env: &str) -> Result<(), crate::Error> {
    let deploys = store.deploy_marks(repo, env).await?;
    let mut contents: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (dep, sha) in store.deploy_commits(Some(repo)).await? {
        contents.entry(dep).or_default().push(sha);
    }
    let commits = store.commit_facts(repo).await?;
    let mut fixes = Vec::with_capacity(deploys.len());
    for d in &deploys {
        let shas = contents.get(&d.id).map(Vec::as_slice).unwrap_or_default();
        let f = shas
            .iter()
            .any(|s| commits.get(s).is_some_and(|c| is_fix(&c.summary)));
        fixes.push(i64::from(f));
    }
    // The incident window is a query parameter: keep the gap to the next finished deploy when
    // that one ships a fix.
    let finished: Vec<usize> = (0..deploys.len())
        .filter(|i| deploys[*i].status.finished())
        .collect();
    let mut next_fix: Vec<Option<i64>> = vec![None; deploys.len()];
    for w in finished.windows(2) {
        if fixes[w[1]] == 1 {
            next_fix[w[0]] = Some(deploys[w[1]].at - deploys[w[0]].at);
        }
    }
    for (i, d) in deploys.iter().enumerate() {
        if d.fixes != fixes[i] || d.next_fix != next_fix[i] {
            store.set_deploy_fix(&d.id, fixes[i], next_fix[i]).await?;
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut spans = Vec::new();
    for d in deploys.iter().filter(|d| d.status == DeployStatus::Success) {
        for sha in contents.get(&d.id).map(Vec::as_slice).unwrap_or_default() {
            let Some(c) = commits.get(sha) else { continue };
            if !seen.insert(sha.as_str()) {
                continue;
            }
            spans.push(crate::store::spans::Span {
                metric: "lead".into(),
                scope: env.into(),
                repo: repo.into(),
                item: sha.clone(),
                at: d.at,
                agent: c.agent,
                // A commit's time is whatever its author's clock said.
                secs: d.at.saturating_sub(c.committed_at),
            });
        }
    }
    crate::store::spans::replace(store, repo, &["lead"], Some(env), spans).await
}

/// Measures every environment `repo` deploys to again (after a scan brought commits).
pub async fn measure_repo(store: &Store, repo: &str) -> Result<(), crate::Error> {
    for env in store.deploy_environments(repo).await? {
        measure(store, repo, &env).await?;
    }
    Ok(())
}

/// Works out and stores what `d` shipped over `previous` (left alone when the clone lacks it).
async fn compute(
    store: &Store,
    repo: &str,
    d: &Deployment,
    previous: Option<String>,
) -> Result<(), DeployError> {
    let Some(path) = store.repo_path(repo).await? else {
        // No clone here: another machine's scan measures it.
        return Ok(());
    };
    let sha = d.sha.clone();
    let shipped =
        tokio::task::spawn_blocking(move || contents(Path::new(&path), &sha, previous.as_deref()))
            .await
            .map_err(|e| DeployError::Git(repo.into(), git2::Error::from_str(&e.to_string())))?;
    if let Ok(shas) = shipped {
        store.set_deploy_commits(&d.id, repo, &shas).await?;
    }
    Ok(())
}

/// One deploy with what it shipped.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct DeployDetail {
    pub deployment: Deployment,
    /// The successful deploy it is measured against.
    pub previous: Option<Deployment>,
    /// Newest first; from the store when ingested.
    pub commits: Vec<Commit>,
    /// Change requests whose head, or the commit their merge left, is among the commits.
    pub changes: Vec<DeployChange>,
}

/// A change a deploy shipped, with what a lead asks of it: who wrote it (agent or person, in
/// `change.author`), who reviewed it, its checks, its agent cost and the policy's verdict.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct DeployChange {
    pub change: crate::model::ChangeRequest,
    /// Each reviewer's latest word on the change (approved, changes_requested, commented).
    pub reviews: Vec<ReviewWord>,
    pub checks: Vec<crate::model::Check>,
    /// The merge policy's verdict, judged at the merge (freeze windows then, not now).
    pub verdict: Option<crate::domain::policy::Verdict>,
    /// Why there is no verdict (an unreadable policy file or repo).
    pub policy_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ReviewWord {
    pub reviewer: String,
    pub state: ReviewState,
}

/// Deploy `id` with what it shipped; each change judged by the policy in `policy_file` (the
/// built-in policy when `None`). Reads by key: its cost does not grow with the store.
pub async fn detail(
    store: &Store,
    id: &str,
    policy_file: Option<&Path>,
) -> Result<Option<DeployDetail>, crate::Error> {
    let Some(d) = store.deployment(id).await? else {
        return Ok(None);
    };
    let previous = store
        .last_success(&d.repo, &d.environment, Some((d.created_at, &d.id)))
        .await?;
    let shipped = store.deploy_shas(&d.id).await?;
    let mut commits = store.commits_with(&d.repo, &shipped).await?;
    commits.sort_by_key(|c| std::cmp::Reverse(c.committed_at));
    let policies = match policy_file {
        Some(p) => crate::domain::policy::PolicyFile::load(p).map_err(|e| e.to_string()),
        None => Ok(crate::domain::policy::PolicyFile::default()),
    };
    let repos = store.repos().await?;
    let mut changes = Vec::new();
    for cid in store.change_ids_shipping(&d.repo, &shipped).await? {
        let Some(change) = store.change_request(&cid).await? else {
            continue;
        };
        let reviews = store.reviews_of(&cid).await?;
        let checks = store.checks_of(&cid).await?;
        let at = change.merged_at.unwrap_or(d.created_at);
        let judged = match &policies {
            Ok(file) => {
                let known = crate::domain::policy::Known {
                    checks: &checks,
                    reviews: &reviews,
                    repos: &repos,
                    files: None,
                };
                crate::domain::policy::judge_change_among(store, file, &change, at, &known).await
            }
            Err(e) => Err(e.clone()),
        };
        let mut latest: Vec<ReviewWord> = Vec::new();
        for r in &reviews {
            latest.retain(|w| w.reviewer != r.reviewer);
            latest.push(ReviewWord {
                reviewer: r.reviewer.clone(),
                state: r.state,
            });
        }
        let (verdict, policy_error) = match judged {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        changes.push(DeployChange {
            change,
            reviews: latest,
            checks,
            verdict,
            policy_error,
        });
    }
    Ok(Some(DeployDetail {
        deployment: d,
        previous,
        commits,
        changes,
    }))
}

/// A GitHub deployment's state, from its newest status, as a deploy status.
fn status_of(state: Option<&str>) -> &'static str {
    match state {
        Some("success") | Some("inactive") => "success", // inactive: superseded after success
        Some("failure") | Some("error") => "failure",
        Some("in_progress") => "in_progress",
        _ => "queued",
    }
}

/// Reads `full_name`'s GitHub deployments (with their newest status) into deploys of the repo
/// at `repo_key`. Deploys already final here are not asked about again. Returns how many.
pub async fn sync_github(
    gh: &crate::forge::github::GitHub,
    store: &Store,
    full_name: &str,
    repo_key: &str,
    now: i64,
) -> Result<usize, crate::forge::github::GitHubError> {
    let list = gh
        .get_all(&format!("/repos/{full_name}/deployments?per_page=100"))
        .await?;
    let known: std::collections::HashMap<String, DeployStatus> = store
        .deployments()
        .await?
        .into_iter()
        .map(|d| (d.id, d.status))
        .collect();
    let mut n = 0;
    for d in &list {
        let (Some(id), Some(sha), Some(env)) = (
            d["id"].as_u64(),
            d["sha"].as_str(),
            d["environment"].as_str(),
        ) else {
            continue;
        };
        let key = format!("github:{full_name}:{id}");
        if known.get(&key).is_some_and(|s| s.finished()) {
            continue;
        }
        let statuses = gh
            .get_all(&format!(
                "/repos/{full_name}/deployments/{id}/statuses?per_page=100"
            ))
            .await?;
        // The newest by created_at (GitHub lists newest first, but says nothing of it).
        let newest = statuses
            .iter()
            .max_by_key(|s| s["created_at"].as_str().unwrap_or(""))
            .and_then(|s| s["state"].as_str());
        let at = d["created_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(now, |t| t.timestamp());
        let r = Record {
            repo: Some(repo_key.into()),
            environment: env.into(),
            sha: sha.into(),
            status: status_of(newest).into(),
            at: Some(at),
            id: Some(key),
        };
        match record_contents(store, &r, "github", now).await {
            Ok(_) => n += 1,
            Err(DeployError::Store(e)) => return Err(e.into()),
            // A sha this clone has never seen and is not a full sha: skipped, not fatal.
            Err(e) => tracing::warn!("{full_name} deployment {id}: {e}"),
        }
    }
    if n > 0 {
        crate::store::cycle::measure(store, repo_key).await?;
    }
    Ok(n)
}
