//! GitHub pull requests as change requests: a REST client done the way GitHub asks clients to
//! behave, and the sync that keeps each watched repo's open pull requests, their checks and
//! statuses in the store.
//!
//! The client sends the ETag it holds (`if-none-match`), so an unchanged resource costs a 304
//! that does not count against the rate limit; follows `link: rel="next"` as given; tracks
//! `x-ratelimit-*` and stops — returning when it may go on — when the primary limit is spent
//! or a secondary limit answers (honouring `retry-after`); retries 5xx answers, timeouts and
//! dropped connections with jittered exponential backoff. The token never leaves this module:
//! it is not stored, logged or put in an error.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK, USER_AGENT};
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::model::{Author, ChangeKind, ChangeRequest, Check};
use crate::sources::agent_for_branch;
use crate::store::Store;

pub const DEFAULT_API: &str = "https://api.github.com";
/// Attempts after the first for a 5xx, a timeout or a dropped connection.
const RETRIES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub's {} rate limit is spent until {}; nothing more is asked until then", if *.secondary { "secondary" } else { "primary" }, fmt_time(*.until))]
    RateLimited { until: i64, secondary: bool },
    #[error("{url}: HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: {message}")]
    Network { url: String, message: String },
    #[error("{url}: the answer is not the JSON expected: {message}")]
    Shape { url: String, message: String },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// The last rate-limit state GitHub reported, for the UI's "last synced" line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RateState {
    #[ts(type = "number")]
    pub limit: i64,
    #[ts(type = "number")]
    pub remaining: i64,
    /// Epoch seconds.
    #[ts(type = "number")]
    pub reset: i64,
}

#[derive(Clone)]
struct Cached {
    etag: String,
    body: Value,
    next: Option<String>,
}

pub struct GitHub {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
    rate: Mutex<RateState>,
    /// First retry delay; doubles each time, plus up to as much again of jitter.
    backoff: Duration,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("GitHub").field("base", &self.base).finish()
    }
}

impl GitHub {
    /// A client for `api_url` (`https://api.github.com`, an Enterprise `/api/v3`, a test
    /// server) with an optional token.
    pub fn new(api_url: &str, token: Option<String>) -> Result<Self, GitHubError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| GitHubError::Network {
                url: api_url.into(),
                message: e.to_string(),
            })?;
        Ok(Self {
            base: api_url.trim_end_matches('/').to_string(),
            token,
            http,
            cache: Mutex::new(HashMap::new()),
            rate: Mutex::new(RateState::default()),
            backoff: Duration::from_millis(250),
        })
    }

    /// Shorter retry delays (tests).
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    pub fn rate(&self) -> RateState {
        self.rate.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    /// One GET: the body and the next page's URL, from cache when GitHub says 304.
    pub async fn get(&self, path_or_url: &str) -> Result<(Value, Option<String>), GitHubError> {
        let url = self.url(path_or_url);
        let mut attempt = 0;
        loop {
            let cached = self.cache.lock().ok().and_then(|c| c.get(&url).cloned());
            let mut req = self
                .http
                .get(&url)
                .header(ACCEPT, "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28")
                .header(USER_AGENT, "flightdeck");
            if let Some(t) = &self.token {
                req = req.header(AUTHORIZATION, format!("Bearer {t}"));
            }
            if let Some(c) = &cached {
                req = req.header(IF_NONE_MATCH, &c.etag);
            }
            let retry = match req.send().await {
                Err(e)
                    if (e.is_timeout() || e.is_connect() || e.is_request())
                        && attempt < RETRIES =>
                {
                    e.to_string()
                }
                Err(e) => {
                    return Err(GitHubError::Network {
                        url,
                        message: e.without_url().to_string(),
                    })
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    self.note_rate(&headers);
                    if status == 304 {
                        if let Some(c) = cached {
                            return Ok((c.body, c.next));
                        }
                    }
                    let text = match resp.text().await {
                        Ok(t) => t,
                        Err(e) if attempt < RETRIES => {
                            attempt += 1;
                            self.pause(attempt, &e.to_string()).await;
                            continue;
                        }
                        Err(e) => {
                            return Err(GitHubError::Network {
                                url,
                                message: e.without_url().to_string(),
                            })
                        }
                    };
                    match status {
                        200..=299 => {
                            let body: Value =
                                serde_json::from_str(&text).map_err(|e| GitHubError::Shape {
                                    url: url.clone(),
                                    message: e.to_string(),
                                })?;
                            let next = next_link(&headers);
                            if let Some(etag) = headers.get(ETAG).and_then(|v| v.to_str().ok()) {
                                if let Ok(mut c) = self.cache.lock() {
                                    c.insert(
                                        url.clone(),
                                        Cached {
                                            etag: etag.to_string(),
                                            body: body.clone(),
                                            next: next.clone(),
                                        },
                                    );
                                }
                            }
                            return Ok((body, next));
                        }
                        403 | 429 => {
                            if let Some(limited) = limited(&headers, &text) {
                                return Err(limited);
                            }
                            return Err(http_error(url, status, &text));
                        }
                        500..=599 if attempt < RETRIES => format!("HTTP {status}"),
                        _ => return Err(http_error(url, status, &text)),
                    }
                }
            };
            attempt += 1;
            self.pause(attempt, &retry).await;
        }
    }

    async fn pause(&self, attempt: u32, why: &str) {
        let base = self.backoff * 2u32.pow(attempt.saturating_sub(1));
        let jitter = base.mul_f64(jitter_fraction());
        tracing::debug!("GitHub: {why}; retrying in {:?}", base + jitter);
        tokio::time::sleep(base + jitter).await;
    }

    /// Every page of a list, following `link: rel="next"` as GitHub gives it.
    pub async fn get_all(&self, path: &str) -> Result<Vec<Value>, GitHubError> {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(url) = next {
            let (body, n) = self.get(&url).await?;
            match body {
                Value::Array(items) => out.extend(items),
                other => {
                    return Err(GitHubError::Shape {
                        url: self.url(&url),
                        message: format!("expected a list, got {}", kind_of(&other)),
                    })
                }
            }
            next = n;
        }
        Ok(out)
    }

    /// One POST/PUT with a JSON body, sent once: a mutation is not retried here (after a lost
    /// answer it may have happened); the outbox checks before it sends again.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, GitHubError> {
        let url = self.url(path);
        let mut req = self
            .http
            .request(method, &url)
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header(USER_AGENT, "flightdeck")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(t) = &self.token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = req.send().await.map_err(|e| GitHubError::Network {
            url: url.clone(),
            message: e.without_url().to_string(),
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.note_rate(&headers);
        let text = resp.text().await.map_err(|e| GitHubError::Network {
            url: url.clone(),
            message: e.without_url().to_string(),
        })?;
        match status {
            200..=299 => serde_json::from_str(&text).map_err(|e| GitHubError::Shape {
                url,
                message: e.to_string(),
            }),
            403 | 429 => {
                Err(limited(&headers, &text).unwrap_or_else(|| http_error(url, status, &text)))
            }
            _ => Err(http_error(url, status, &text)),
        }
    }

    fn note_rate(&self, h: &HeaderMap) {
        let num = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        if let (Some(limit), Some(remaining), Some(reset)) = (
            num("x-ratelimit-limit"),
            num("x-ratelimit-remaining"),
            num("x-ratelimit-reset"),
        ) {
            if let Ok(mut r) = self.rate.lock() {
                *r = RateState {
                    limit,
                    remaining,
                    reset,
                };
            }
        }
    }
}

/// A 403/429 that is a rate limit, with when to go on (FORMATS.md 4.6): `retry-after` first,
/// then a spent primary limit's reset, then a secondary-limit message (a minute).
fn limited(h: &HeaderMap, body: &str) -> Option<GitHubError> {
    let now = chrono::Utc::now().timestamp();
    let num = |k: &str| {
        h.get(k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    if let Some(secs) = num("retry-after") {
        return Some(GitHubError::RateLimited {
            until: now + secs,
            secondary: true,
        });
    }
    if num("x-ratelimit-remaining") == Some(0) {
        return Some(GitHubError::RateLimited {
            until: num("x-ratelimit-reset").unwrap_or(now + 60),
            secondary: false,
        });
    }
    if body.to_lowercase().contains("secondary rate limit") {
        return Some(GitHubError::RateLimited {
            until: now + 60,
            secondary: true,
        });
    }
    None
}

fn http_error(url: String, status: u16, body: &str) -> GitHubError {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    GitHubError::Http {
        url,
        status,
        message,
    }
}

/// The `rel="next"` URL of a `link` header.
fn next_link(h: &HeaderMap) -> Option<String> {
    let link = h.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rest) = part.split_once(';')?;
        rest.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

fn jitter_fraction() -> f64 {
    let mut b = [0u8; 2];
    let _ = getrandom::getrandom(&mut b);
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "an object",
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        _ => "a scalar",
    }
}

fn fmt_time(ts: i64) -> String {
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

/// `owner/name` on the forge at `api_url` (or github.com) of the watched repo at `repo_path`,
/// from its `origin` remote as last scanned.
pub async fn full_name_of(
    store: &Store,
    repo_path: &str,
    api_url: &str,
) -> Result<Option<String>, crate::Error> {
    Ok(store
        .repos()
        .await?
        .iter()
        .find(|r| r.path == repo_path)
        .and_then(|r| full_name(r, &forge_host(api_url))))
}

/// `owner/name` of a watched repo on the forge at `host` (or github.com), from its `origin`.
fn full_name(repo: &crate::model::Repo, host: &str) -> Option<String> {
    let u = repo.remote_url.as_deref()?;
    repo_of_remote(u, host).or_else(|| repo_of_remote(u, "github.com"))
}

/// The change request id of a pull request.
pub fn change_id(full_name: &str, number: u64) -> String {
    format!("github:{full_name}#{number}")
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
                && c.state == "open"
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
        change.first_commit_at = crate::sources::git::first_commit_time(
            std::path::Path::new(repo_key),
            &change.head_sha,
            &change.base,
        );
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
        // The paths, for the policy's protected paths (both sides of a rename).
        let mut paths: Vec<String> = Vec::new();
        for f in gh
            .get_all(&format!(
                "/repos/{full_name}/pulls/{number}/files?per_page=100"
            ))
            .await?
        {
            for k in ["filename", "previous_filename"] {
                if let Some(p) = f[k].as_str() {
                    paths.push(p.to_string());
                }
            }
        }
        store
            .set_change_files(&id, &change.head_sha, &paths)
            .await?;
        store.upsert_change_request(&change).await?;
    }
    // Stored as open but no longer listed: closed or merged since.
    for c in stored.values() {
        if c.state == "open" && !open_ids.contains(&c.id) {
            let number = c.id.rsplit('#').next().unwrap_or_default();
            let (pr, _) = gh
                .get(&format!("/repos/{full_name}/pulls/{number}"))
                .await?;
            if let Some(now) = change_of(&pr, full_name, repo_key) {
                store.upsert_change_request(&now).await?;
                // What a squash or rebase merge put on the base, for the deploy phase.
                if let Some(sha) = pr["merge_commit_sha"]
                    .as_str()
                    .filter(|_| now.state == "merged")
                {
                    store.set_merge_sha(&now.id, sha).await?;
                }
                sync.closed += 1;
            }
        }
    }
    // Only changes that left the open list can have been merged: their cycle time is new.
    if sync.closed > 0 {
        crate::cycle::measure(store, repo_key).await?;
    }
    Ok(sync)
}

/// A pull request (the single-PR shape) as a change request.
fn change_of(pr: &Value, full_name: &str, repo_key: &str) -> Option<ChangeRequest> {
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
        "merged"
    } else {
        pr["state"].as_str().unwrap_or("open")
    };
    let n = |k: &str| pr[k].as_i64().unwrap_or(0);
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
        state: state.into(),
        created_at: ts("created_at")?,
        updated_at: ts("updated_at")?,
        commits: n("commits"),
        files_changed: n("changed_files"),
        insertions: n("additions"),
        deletions: n("deletions"),
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
fn mergeable_of(pr: &Value) -> Option<String> {
    if pr["draft"].as_bool() == Some(true) {
        return Some("draft".into());
    }
    let state = match pr["mergeable_state"].as_str()? {
        "dirty" => "conflicts",
        "clean" | "has_hooks" => "clean",
        "unknown" => return None,
        other => other,
    };
    Some(state.into())
}

/// A GitHub review as the store keeps reviews (pending ones are nobody's verdict yet).
fn review_of(r: &Value, change: &str) -> Option<crate::model::Review> {
    let state = match r["state"].as_str()? {
        "APPROVED" => "approved",
        "CHANGES_REQUESTED" => "changes_requested",
        "COMMENTED" => "commented",
        "DISMISSED" => "dismissed",
        _ => return None,
    };
    Some(crate::model::Review {
        action_key: format!("github-review:{}", r["id"].as_u64()?),
        change_request: change.into(),
        head_sha: r["commit_id"].as_str().unwrap_or("").into(),
        reviewer: r["user"]["login"].as_str()?.into(),
        state: state.into(),
        body: r["body"].as_str().unwrap_or("").into(),
        at: r["submitted_at"]
            .as_str()
            .and_then(crate::sources::parse_ts)
            .unwrap_or(0),
    })
}

/// Check runs and commit statuses of `sha`, as checks of change request `id`.
async fn checks_of(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_name_their_repo() {
        for remote in [
            "git@github.com:acme/widgets.git",
            "https://github.com/acme/widgets",
            "https://github.com/acme/widgets.git/",
            "ssh://git@github.com/acme/widgets.git",
        ] {
            assert_eq!(
                repo_of_remote(remote, "github.com").as_deref(),
                Some("acme/widgets"),
                "{remote}"
            );
        }
        assert_eq!(
            repo_of_remote("git@gitlab.com:acme/widgets.git", "github.com"),
            None
        );
        assert_eq!(
            repo_of_remote("https://github.com/acme", "github.com"),
            None
        );
    }

    #[test]
    fn next_links_are_taken_as_given() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            "<https://api.github.com/repositories/1/pulls?page=2>; rel=\"next\", <https://api.github.com/repositories/1/pulls?page=4>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        h.insert(LINK, "<https://x/p?page=1>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_link(&h), None);
    }
}

/// Where a token was found, for `doctor` (the token itself is never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Env(&'static str),
    Keyring,
    GhCli,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env(var) => write!(f, "${var}"),
            TokenSource::Keyring => f.write_str("the OS keyring"),
            TokenSource::GhCli => f.write_str("`gh auth token`"),
        }
    }
}

/// The token for the GitHub at `api_url`, and where it came from — never from config or the
/// store: `GH_TOKEN`, `GITHUB_TOKEN`, the OS keyring (`flightdeck token set`), else the GitHub
/// CLI's login. `None`: unauthenticated (60 requests an hour; fine for a look, not for a team).
pub fn find_token(api_url: &str) -> Option<(String, TokenSource)> {
    for var in ["GH_TOKEN", "GITHUB_TOKEN"] {
        if let Ok(t) = std::env::var(var) {
            if !t.trim().is_empty() {
                return Some((t.trim().to_string(), TokenSource::Env(var)));
            }
        }
    }
    let account = crate::secrets::github_account(&forge_host(api_url));
    match crate::secrets::get(&account) {
        Ok(Some(t)) if !t.trim().is_empty() => {
            return Some((t.trim().to_string(), TokenSource::Keyring))
        }
        Ok(_) => {}
        // No keyring on this machine is normal (a server, CI): the next source is asked.
        Err(e) => tracing::debug!("no token from the keyring: {e}"),
    }
    let out = std::process::Command::new("gh")
        .args(["auth", "token"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let t = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !t.trim().is_empty())
        .then(|| (t.trim().to_string(), TokenSource::GhCli))
}

/// The token alone (see `find_token`).
pub fn token(api_url: &str) -> Option<String> {
    find_token(api_url).map(|(t, _)| t)
}

/// The web host whose remotes this API serves: `api.github.com` → `github.com`,
/// `https://ghe.acme.dev/api/v3` → `ghe.acme.dev`, a local fake → its `host:port`.
pub fn forge_host(api_url: &str) -> String {
    let rest = api_url.split_once("://").map(|(_, r)| r).unwrap_or(api_url);
    let host = rest.split('/').next().unwrap_or(rest);
    host.strip_prefix("api.").unwrap_or(host).to_string()
}

/// How the last GitHub refresh went, for the UI ("last synced", rate limit, error).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct ForgeStatus {
    #[ts(type = "number | null")]
    pub last_synced: Option<i64>,
    #[ts(type = "number")]
    pub repos: i64,
    #[ts(type = "number")]
    pub open: i64,
    /// Open issues, read as work items.
    #[serde(default)]
    #[ts(type = "number")]
    pub issues: i64,
    #[ts(type = "number")]
    pub rate_limit: i64,
    #[ts(type = "number")]
    pub rate_remaining: i64,
    #[ts(type = "number")]
    pub rate_reset: i64,
    pub error: Option<String>,
    /// Who the token belongs to: reviews requested from this login are the lead's.
    #[serde(default)]
    pub login: Option<String>,
}

impl ForgeStatus {
    pub async fn load(store: &Store) -> Result<Option<Self>, crate::Error> {
        Ok(store
            .cursor("github", "status")
            .await?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }
}

/// Refreshes every watched repo whose `origin` is on this GitHub, and records how it went.
/// Stops at the first rate limit (the rest waits for the reset); other errors are per repo.
pub async fn sync_all(
    gh: &GitHub,
    store: &Store,
    api_url: &str,
    incident_labels: &[String],
    now: i64,
) -> Result<ForgeStatus, crate::Error> {
    let host = forge_host(api_url);
    let mut status = ForgeStatus {
        last_synced: Some(now),
        ..Default::default()
    };
    let mut errors = Vec::new();
    for repo in store.repos().await? {
        let Some(full) = full_name(&repo, &host) else {
            continue;
        };
        status.repos += 1;
        let synced = match sync_repo(gh, store, &full, &repo.path).await {
            Ok(s) => {
                status.open += s.open as i64;
                // Its open issues become work items; its deployments deploys; issues labelled
                // `incident` incidents; runs waiting on an environment's reviewers pending
                // releases.
                async {
                    status.issues +=
                        crate::issues::sync_issues(gh, store, &full, &repo.path, now).await? as i64;
                    crate::deploys::sync_github(gh, store, &full, &repo.path, now).await?;
                    let incidents = crate::incidents::sync_github(
                        gh,
                        store,
                        &full,
                        &repo.path,
                        incident_labels,
                    )
                    .await?;
                    errors.extend(incidents.skipped);
                    crate::releases::sync_waiting_runs(gh, store, &full, &repo.path, now).await?;
                    Ok(())
                }
                .await
            }
            Err(e) => Err(e),
        };
        match synced {
            Ok(()) => {}
            Err(e @ GitHubError::RateLimited { .. }) => {
                errors.push(e.to_string());
                break;
            }
            Err(GitHubError::Store(e)) => return Err(e),
            Err(e) => errors.push(format!("{full}: {e}")),
        }
    }
    if status.repos > 0 {
        // Conditional after the first time: a free 304.
        match gh.get("/user").await {
            Ok((u, _)) => status.login = u["login"].as_str().map(str::to_string),
            Err(e) => errors.push(format!("who am I: {e}")),
        }
    }
    let rate = gh.rate();
    status.rate_limit = rate.limit;
    status.rate_remaining = rate.remaining;
    status.rate_reset = rate.reset;
    status.error = (!errors.is_empty()).then(|| errors.join("; "));
    let text = serde_json::to_string(&status).unwrap_or_default();
    store.set_cursor("github", "status", &text, now).await?;
    Ok(status)
}

/// Refreshes GitHub every `every` in the background (no sooner than a spent rate limit
/// resets), telling the UI when it did.
pub fn spawn_periodic(
    store: Store,
    bus: crate::events::EventBus,
    api_url: String,
    token: Option<String>,
    incident_labels: Vec<String>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let gh = match GitHub::new(&api_url, token) {
            Ok(gh) => gh,
            Err(e) => {
                tracing::warn!("GitHub sync is off: {e}");
                return;
            }
        };
        loop {
            let now = chrono::Utc::now().timestamp();
            let mut wait = every;
            match sync_all(&gh, &store, &api_url, &incident_labels, now).await {
                Ok(s) if s.repos > 0 => {
                    if s.rate_remaining == 0 && s.rate_reset > now {
                        wait = wait.max(Duration::from_secs((s.rate_reset - now) as u64));
                    }
                    bus.publish(crate::events::Event::Changed {
                        source: "github".into(),
                        topics: vec!["changes".into(), "inbox".into()],
                    });
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("GitHub sync failed: {e}"),
            }
            tokio::time::sleep(wait).await;
        }
    })
}

/// Applies outbox actions on GitHub pull requests: reviews through the reviews API (the
/// action's key hidden in the body, so a resent review is recognised), merges through the
/// merge API with the head the lead reviewed (a PR that moved is refused with 409, not merged),
/// closes by setting the pull request's state.
pub struct GitHubApplier {
    pub gh: GitHub,
}

/// Where an action's key sits in a review body.
pub fn marker(key: &str) -> String {
    format!("<!-- flightdeck:{key} -->")
}

impl GitHubApplier {
    fn pr_path(p: &crate::outbox::Payload) -> Option<String> {
        Some(format!("/repos/{}/pulls/{}", p.repo, p.number?))
    }
}

/// A GitHub failure as an outbox outcome: what may pass is retried, the rest is final.
pub(crate) fn outcome_of(e: GitHubError) -> crate::outbox::Outcome {
    use crate::outbox::Outcome;
    match e {
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

impl crate::outbox::Applier for GitHubApplier {
    async fn check(
        &self,
        a: &crate::model::Action,
        p: &crate::outbox::Payload,
    ) -> crate::outbox::Checked {
        use crate::outbox::Checked;
        if a.kind == "assign" {
            return crate::issues::check_assign(&self.gh, p).await;
        }
        if a.kind.starts_with("release_") {
            return crate::releases::check_review(&self.gh, p).await;
        }
        let Some(path) = Self::pr_path(p) else {
            return Checked::Unknown("the action names no pull request number".into());
        };
        if a.kind == "merge" {
            return match self.gh.get(&path).await {
                Ok((pr, _)) if pr["merged"].as_bool() == Some(true) => Checked::Done(format!(
                    "merged as {}",
                    pr["merge_commit_sha"].as_str().unwrap_or("?")
                )),
                Ok(_) => Checked::NotDone,
                Err(e) => Checked::Unknown(e.to_string()),
            };
        }
        if a.kind == "close" {
            return match self.gh.get(&path).await {
                Ok((pr, _)) if pr["state"].as_str() == Some("closed") => {
                    Checked::Done("closed".into())
                }
                Ok(_) => Checked::NotDone,
                Err(e) => Checked::Unknown(e.to_string()),
            };
        }
        let mark = marker(&a.idempotency_key);
        match self
            .gh
            .get_all(&format!("{path}/reviews?per_page=100"))
            .await
        {
            Ok(reviews) => match reviews
                .iter()
                .find(|r| r["body"].as_str().is_some_and(|b| b.contains(&mark)))
            {
                Some(r) => Checked::Done(format!("review {}", r["id"])),
                None => Checked::NotDone,
            },
            Err(e) => Checked::Unknown(e.to_string()),
        }
    }

    async fn apply(
        &self,
        a: &crate::model::Action,
        p: &crate::outbox::Payload,
    ) -> crate::outbox::Outcome {
        use crate::outbox::Outcome;
        if a.kind == "assign" {
            return crate::issues::apply_assign(&self.gh, p).await;
        }
        if a.kind.starts_with("release_") {
            return crate::releases::apply_review(&self.gh, &a.kind, p).await;
        }
        let Some(path) = Self::pr_path(p) else {
            return Outcome::Failed("the action names no pull request number".into());
        };
        if a.kind == "merge" {
            let body = serde_json::json!({
                "sha": p.sha,
                "merge_method": p.method.as_deref().unwrap_or("merge"),
            });
            return match self
                .gh
                .send(reqwest::Method::PUT, &format!("{path}/merge"), &body)
                .await
            {
                Ok(v) => {
                    Outcome::Applied(format!("merged as {}", v["sha"].as_str().unwrap_or("?")))
                }
                Err(e) => outcome_of(e),
            };
        }
        if a.kind == "close" {
            let body = serde_json::json!({ "state": "closed" });
            return match self.gh.send(reqwest::Method::PATCH, &path, &body).await {
                Ok(_) => Outcome::Applied(format!("closed{}", crate::outbox::because(p))),
                Err(e) => outcome_of(e),
            };
        }
        let event = match a.kind.as_str() {
            "approve" => "APPROVE",
            "request_changes" => "REQUEST_CHANGES",
            "comment" => "COMMENT",
            other => return Outcome::Failed(format!("`{other}` is not a review")),
        };
        let text = p.body.clone().unwrap_or_default();
        let body = serde_json::json!({
            "commit_id": p.sha,
            "event": event,
            "body": format!("{text}\n\n{}", marker(&a.idempotency_key)).trim().to_string(),
        });
        match self
            .gh
            .send(reqwest::Method::POST, &format!("{path}/reviews"), &body)
            .await
        {
            Ok(v) => Outcome::Applied(format!(
                "review {} ({})",
                v["id"],
                v["state"].as_str().unwrap_or("?")
            )),
            Err(e) => outcome_of(e),
        }
    }
}

/// Page `page` of a pull request's diff, from GitHub's files list: each file's status and
/// counts, and its `patch` split into hunks with line numbers. GitHub leaves the patch out for
/// binary files and very large diffs; those are shown without hunks.
pub async fn pr_diff(
    gh: &GitHub,
    full_name: &str,
    number: u64,
    head_sha: &str,
    page: usize,
) -> Result<crate::diff::ChangeDiff, GitHubError> {
    use crate::diff::{ChangeDiff, FileDiff, FILES_PER_PAGE};
    let files = gh
        .get_all(&format!(
            "/repos/{full_name}/pulls/{number}/files?per_page=100"
        ))
        .await?;
    let total = files.len();
    let pages = total.div_ceil(FILES_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let out = files
        .iter()
        .skip((page - 1) * FILES_PER_PAGE)
        .take(FILES_PER_PAGE)
        .map(|f| {
            let patch = f["patch"].as_str();
            let status = match f["status"].as_str().unwrap_or("modified") {
                "removed" => "deleted",
                "added" => "added",
                "renamed" => "renamed",
                _ => "modified",
            };
            let changes = f["changes"].as_i64().unwrap_or(0);
            let (hunks, lines_omitted) = patch.map(crate::diff::parse_patch).unwrap_or_default();
            FileDiff {
                path: f["filename"].as_str().unwrap_or("").into(),
                old_path: f["previous_filename"].as_str().map(str::to_string),
                status: status.into(),
                binary: patch.is_none() && changes == 0 && status != "deleted",
                additions: f["additions"].as_i64().unwrap_or(0),
                deletions: f["deletions"].as_i64().unwrap_or(0),
                hunks,
                lines_omitted,
            }
        })
        .collect();
    Ok(ChangeDiff {
        base_sha: String::new(),
        head_sha: head_sha.into(),
        files_total: total as i64,
        page: page as i64,
        pages: pages as i64,
        files: out,
    })
}
