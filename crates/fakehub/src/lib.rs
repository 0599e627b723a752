//! A local GitHub REST server for tests and the demo: the endpoints Flightdeck uses, answering
//! with GitHub's response shapes (templated from the recorded examples in `shapes/`), status
//! codes and headers — ETags and 304s that do not count against the limit, `link` pagination,
//! `x-ratelimit-*` headers and a primary limit that runs out (403 with the real body), and
//! injected faults (5xx, secondary limits with `retry-after`, slow answers).
//!
//! Not a general GitHub: one token is accepted (or none required), state lives in memory and
//! is set through `Hub`'s methods.

mod actions;
pub mod billing;
pub mod growthbook;
pub mod journal;
pub mod receivers;
pub mod slack;
pub mod smtp;
pub use actions::Deploy;
mod issues;

pub use issues::Issue;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PULL: &str = include_str!("../shapes/pull-42.json");
const CHECK_RUNS: &str = include_str!("../shapes/check-runs.json");
const STATUS: &str = include_str!("../shapes/combined-status.json");
const RATE_LIMITED: &str = include_str!("../shapes/rate-limit-exceeded-403.json");
const SECONDARY: &str = include_str!("../shapes/secondary-rate-limit-403.json");
const REVIEW: &str = include_str!("../shapes/review-create-response.json");
const NOT_MERGEABLE: &str = include_str!("../shapes/merge-405.json");
const HEAD_MOVED: &str = include_str!("../shapes/merge-409.json");

/// A fault the next request (after any queued before it) meets.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this 5xx status.
    Status(u16),
    /// 403 secondary rate limit with `retry-after: secs`.
    Secondary { retry_after: u64 },
    /// Answer normally, after this long.
    Slow(Duration),
    /// Do what was asked (a review, a merge), then answer with this 5xx: the answer is lost,
    /// the change is not.
    AfterApply(u16),
    /// 429 Too Many Requests with `retry-after: secs`.
    TooMany { retry_after: u64 },
    /// Start a 200 answer and drop the connection halfway through its body.
    Drop,
}

/// A pull request as the test sets it up.
#[derive(Debug, Clone)]
pub struct Pr {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub head: String,
    pub base: String,
    pub head_sha: String,
    pub state: String,
    pub additions: u64,
    pub deletions: u64,
    pub changed_files: u64,
    pub commits: u64,
    pub created_at: String,
    pub updated_at: String,
    /// False: a merge is refused with 405 (conflicts, protection).
    pub mergeable: bool,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub draft: bool,
    /// (filename, status, patch); GitHub leaves `patch` out for binary and huge files.
    pub files: Vec<(String, String, Option<String>)>,
    /// Once merged: the commit the merge put on the base (a squash commit, say).
    pub merge_commit_sha: Option<String>,
}

/// A review as stored: (id, login, state, body, commit_id).
pub type Review = (u64, String, String, String, String);

impl Pr {
    pub fn new(number: u64, title: &str, author: &str, head: &str, sha: &str) -> Self {
        Self {
            number,
            title: title.into(),
            author: author.into(),
            head: head.into(),
            base: "main".into(),
            head_sha: sha.into(),
            state: "open".into(),
            additions: 10,
            deletions: 2,
            changed_files: 1,
            commits: 1,
            created_at: "2026-11-20T09:00:00Z".into(),
            updated_at: "2026-11-20T10:00:00Z".into(),
            mergeable: true,
            labels: vec![],
            requested_reviewers: vec![],
            draft: false,
            files: vec![(
                "src/lib.rs".into(),
                "modified".into(),
                Some("@@ -1,2 +1,3 @@\n fn a() {}\n-fn b() {}\n+fn b2() {}\n+fn c() {}".into()),
            )],
            merge_commit_sha: None,
        }
    }
}

/// (name, status, conclusion) of a check run.
pub type CheckRun = (String, String, Option<String>);

#[derive(Default)]
struct Repo {
    pulls: Vec<Pr>,
    check_runs: HashMap<String, Vec<CheckRun>>,
    /// (context, state) per sha.
    statuses: HashMap<String, Vec<(String, String)>>,
    reviews: HashMap<u64, Vec<Review>>,
    /// Merges done per pull request (a second one would be a double application).
    merges: HashMap<u64, u32>,
    /// The `merge_method` of each merge, in order.
    merge_methods: HashMap<u64, Vec<String>>,
    /// Times a pull request was closed through the API.
    closes: HashMap<u64, u32>,
    issues: Vec<issues::Issue>,
    /// Who can be assigned (push access).
    collaborators: std::collections::BTreeSet<String>,
    /// Assignee additions per issue.
    assignee_posts: HashMap<u64, u32>,
    /// Actions runs waiting on environments: run → (environment id, name).
    pending: HashMap<u64, Vec<(i64, String)>>,
    /// Reviews of those: run → (state, comment).
    run_reviews: HashMap<u64, Vec<(String, String)>>,
    deployments: Vec<actions::Deploy>,
    /// Workflow runs waiting on reviewers: (run, head sha, title).
    waiting_runs: Vec<(u64, String, String)>,
}

struct Inner {
    repos: HashMap<String, Repo>,
    limit: i64,
    remaining: i64,
    reset: i64,
    faults: VecDeque<Fault>,
    token: Option<String>,
    /// Requests answered (any status), and those answered 304.
    requests: u64,
    not_modified: u64,
    /// Who the token belongs to: the author of reviews created through the API.
    login: String,
    next_id: u64,
}

/// The fake's state, shared with the running server.
#[derive(Clone)]
pub struct Hub(Arc<Mutex<Inner>>);

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        Hub(Arc::new(Mutex::new(Inner {
            repos: HashMap::new(),
            limit: 5000,
            remaining: 5000,
            reset: chrono::Utc::now().timestamp() + 3600,
            faults: VecDeque::new(),
            token: None,
            requests: 0,
            not_modified: 0,
            login: "lead".into(),
            next_id: 9100,
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// Requests must carry `Authorization: Bearer <token>` (else 401).
    pub fn require_token(&self, token: &str) {
        self.with(|i| i.token = Some(token.into()));
    }

    pub fn add_pull(&self, repo: &str, pr: Pr) {
        self.with(|i| {
            let r = i.repos.entry(repo.into()).or_default();
            r.pulls.retain(|p| p.number != pr.number);
            r.pulls.push(pr);
        });
    }

    /// Changes a pull request in place (e.g. closes it, moves its head).
    pub fn update_pull(&self, repo: &str, number: u64, f: impl FnOnce(&mut Pr)) {
        self.with(|i| {
            if let Some(p) = i
                .repos
                .get_mut(repo)
                .and_then(|r| r.pulls.iter_mut().find(|p| p.number == number))
            {
                f(p);
            }
        });
    }

    pub fn set_check_runs(&self, repo: &str, sha: &str, runs: &[(&str, &str, Option<&str>)]) {
        self.with(|i| {
            let runs = runs
                .iter()
                .map(|(n, s, c)| (n.to_string(), s.to_string(), c.map(str::to_string)))
                .collect();
            i.repos
                .entry(repo.into())
                .or_default()
                .check_runs
                .insert(sha.into(), runs);
        });
    }

    pub fn set_statuses(&self, repo: &str, sha: &str, statuses: &[(&str, &str)]) {
        self.with(|i| {
            let s = statuses
                .iter()
                .map(|(c, s)| (c.to_string(), s.to_string()))
                .collect();
            i.repos
                .entry(repo.into())
                .or_default()
                .statuses
                .insert(sha.into(), s);
        });
    }

    /// The login reviews created through the API are by.
    pub fn set_login(&self, login: &str) {
        self.with(|i| i.login = login.into());
    }

    /// Adds a review as someone else gave it on GitHub (which, like a submitted review on
    /// GitHub, moves the pull request's `updated_at`).
    pub fn add_review(&self, repo: &str, number: u64, login: &str, state: &str, commit: &str) {
        let given = (login.into(), state.into(), String::new(), commit.into());
        self.with(|i| record_review(i, repo, number, given));
    }

    /// Reviews of a pull request, oldest first.
    pub fn reviews(&self, repo: &str, number: u64) -> Vec<Review> {
        lookup(self, repo, |r| r.reviews.get(&number).cloned())
    }

    /// How many times a pull request was merged (more than once is a bug in the client).
    pub fn merges(&self, repo: &str, number: u64) -> u32 {
        lookup(self, repo, |r| r.merges.get(&number).copied())
    }

    /// The `merge_method` each merge of a pull request asked for.
    pub fn merge_methods(&self, repo: &str, number: u64) -> Vec<String> {
        lookup(self, repo, |r| r.merge_methods.get(&number).cloned())
    }

    /// How many times a pull request was closed through the API.
    pub fn closes(&self, repo: &str, number: u64) -> u32 {
        lookup(self, repo, |r| r.closes.get(&number).copied())
    }

    /// Sets the primary rate limit's remaining budget (and its reset, epoch seconds).
    pub fn set_rate_limit(&self, remaining: i64, reset: i64) {
        self.with(|i| {
            i.remaining = remaining;
            i.reset = reset;
        });
    }

    pub fn rate_remaining(&self) -> i64 {
        self.with(|i| i.remaining)
    }

    /// `count` numbered pull requests (`#1…`, head `b<n>` at `sha<n>`, by bob).
    pub fn add_numbered_pulls(&self, repo: &str, count: u64) {
        for n in 1..=count {
            let pr = Pr::new(
                n,
                &format!("PR {n}"),
                "bob",
                &format!("b{n}"),
                &format!("sha{n}"),
            );
            self.add_pull(repo, pr);
        }
    }

    /// Queues `count` faults chosen by `pick` from a seeded pseudo-random sequence, so a chaos
    /// run is the same every time.
    pub fn push_random_faults(&self, seed: u64, count: usize, pick: impl Fn(u64) -> Fault) {
        let mut x = seed.max(1);
        for _ in 0..count {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.push_fault(pick(x));
        }
    }

    pub fn push_fault(&self, f: Fault) {
        self.with(|i| i.faults.push_back(f));
    }

    /// (requests answered, of which 304).
    pub fn counts(&self) -> (u64, u64) {
        self.with(|i| (i.requests, i.not_modified))
    }

    /// Serves on 127.0.0.1 (port 0: any free one); returns the base URL.
    pub async fn serve(&self, port: u16) -> std::io::Result<String> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let app = router(self.clone()).layer(axum::middleware::from_fn(|req, next| {
            journal::layer("github", req, next)
        }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{addr}"))
    }
}

pub fn router(hub: Hub) -> Router {
    Router::new()
        .route("/repos/{owner}/{repo}/pulls", get(list_pulls))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(one_pull).patch(update_pull),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/reviews",
            get(list_reviews).post(create_review),
        )
        .route("/repos/{owner}/{repo}/pulls/{number}/merge", put(merge))
        .route("/repos/{owner}/{repo}/pulls/{number}/files", get(files))
        .route(
            "/repos/{owner}/{repo}/commits/{sha}/{what}",
            get(commit_info),
        )
        .route("/repos/{owner}/{repo}/issues", get(issues::list))
        .route("/repos/{owner}/{repo}/issues/{number}", get(issues::one))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/assignees",
            axum::routing::post(issues::add_assignees).delete(issues::remove_assignees),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            axum::routing::post(issues::add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
            axum::routing::delete(issues::remove_label),
        )
        .route(
            "/repos/{owner}/{repo}/deployments",
            get(actions::deployments),
        )
        .route(
            "/repos/{owner}/{repo}/deployments/{id}/statuses",
            get(actions::deployment_statuses),
        )
        .route("/repos/{owner}/{repo}/actions/runs", get(actions::runs))
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run}/pending_deployments",
            get(actions::list).post(actions::review),
        )
        .route("/rate_limit", get(rate_limit))
        .route("/user", get(user))
        .with_state(hub)
}

/// Everything before the body is decided here: token, faults, the rate limit. `Err` is the
/// response to send instead.
async fn gate(hub: &Hub, headers: &HeaderMap) -> Result<Option<u16>, Response> {
    let (fault, token) = hub.with(|i| {
        i.requests += 1;
        (i.faults.pop_front(), i.token.clone())
    });
    if let Some(t) = token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(t.as_str()) {
            let body = json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"});
            return Err((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response());
        }
    }
    match fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut r = (status, "<html><body>Server Error</body></html>").into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return Err(r);
        }
        Some(Fault::Secondary { retry_after }) => {
            let mut r = (StatusCode::FORBIDDEN, json_body(SECONDARY)).into_response();
            rate_headers(hub, r.headers_mut());
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after));
            return Err(r);
        }
        Some(Fault::TooMany { retry_after }) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, json_body(SECONDARY)).into_response();
            rate_headers(hub, r.headers_mut());
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after));
            return Err(r);
        }
        Some(Fault::Drop) => {
            let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
                Ok("[{\"number\": 1, \"title\": \"cut"),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped",
                )),
            ];
            let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
            let mut r = Response::new(body);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            return Err(r);
        }
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::AfterApply(code)) => {
            if hub.with(|i| i.remaining) <= 0 {
                return Err(rate_limited(hub));
            }
            return Ok(Some(code));
        }
        None => {}
    }
    if hub.with(|i| i.remaining) <= 0 {
        return Err(rate_limited(hub));
    }
    Ok(None)
}

fn rate_limited(hub: &Hub) -> Response {
    let mut r = (StatusCode::FORBIDDEN, json_body(RATE_LIMITED)).into_response();
    rate_headers(hub, r.headers_mut());
    r
}

/// The answer to a mutation that was applied: lost (a 5xx) when the fault says so.
fn applied(hub: &Hub, lost: Option<u16>, ok: Response) -> Response {
    match lost {
        Some(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, "<html><body>upstream timed out</body></html>").into_response()
        }
        None => {
            let mut r = ok;
            rate_headers(hub, r.headers_mut());
            r
        }
    }
}

fn json_body(text: &str) -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        text.to_string(),
    )
}

fn rate_headers(hub: &Hub, h: &mut HeaderMap) {
    let (limit, remaining, reset) = hub.with(|i| (i.limit, i.remaining, i.reset));
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining.max(0)));
    h.insert(
        "x-ratelimit-used",
        HeaderValue::from(limit - remaining.max(0)),
    );
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    h.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
}

/// A 200 with an ETag, or a 304 when the client already has it (which costs no budget).
fn answer(hub: &Hub, headers: &HeaderMap, body: Value, link: Option<String>) -> Response {
    let text = body.to_string();
    let etag = format!("W/\"{}\"", hex_prefix(&Sha256::digest(text.as_bytes()), 16));
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str());
    let mut r = if cached {
        hub.with(|i| i.not_modified += 1);
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        hub.with(|i| i.remaining -= 1);
        let mut r = json_body(&text).into_response();
        if let Some(l) = link {
            if let Ok(v) = HeaderValue::from_str(&l) {
                r.headers_mut().insert(header::LINK, v);
            }
        }
        r
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut().insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    rate_headers(hub, r.headers_mut());
    r
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    bytes.iter().take(n).map(|b| format!("{b:02x}")).collect()
}

fn pull_json(full: &str, p: &Pr, single: bool) -> Value {
    let mut v: Value = serde_json::from_str(PULL).unwrap_or_else(|_| json!({}));
    let (owner, name) = full.split_once('/').unwrap_or((full, full));
    v["number"] = json!(p.number);
    v["title"] = json!(p.title);
    v["state"] = json!(if p.state == "merged" {
        "closed"
    } else {
        p.state.as_str()
    });
    v["user"]["login"] = json!(p.author);
    v["head"]["ref"] = json!(p.head);
    v["head"]["sha"] = json!(p.head_sha);
    v["head"]["label"] = json!(format!("{owner}:{}", p.head));
    v["head"]["repo"]["full_name"] = json!(full);
    v["head"]["repo"]["name"] = json!(name);
    v["base"]["ref"] = json!(p.base);
    v["base"]["repo"]["full_name"] = json!(full);
    v["html_url"] = json!(format!("https://github.com/{full}/pull/{}", p.number));
    v["url"] = json!(format!(
        "https://api.github.com/repos/{full}/pulls/{}",
        p.number
    ));
    v["created_at"] = json!(p.created_at);
    v["updated_at"] = json!(p.updated_at);
    v["draft"] = json!(p.draft);
    // Labels and requested reviewers keep the recorded objects' shape, with this PR's names.
    let template = |k: &str| v[k].get(0).cloned().unwrap_or_else(|| json!({}));
    let (label, reviewer) = (template("labels"), template("requested_reviewers"));
    v["labels"] = p
        .labels
        .iter()
        .map(|name| {
            let mut l = label.clone();
            l["name"] = json!(name);
            l["url"] = json!(format!("https://api.github.com/repos/{full}/labels/{name}"));
            l
        })
        .collect();
    v["requested_reviewers"] = p
        .requested_reviewers
        .iter()
        .map(|login| {
            let mut u = reviewer.clone();
            u["login"] = json!(login);
            u
        })
        .collect();
    v["merged_at"] = if p.state == "merged" {
        json!(p.updated_at)
    } else {
        Value::Null
    };
    v["merge_commit_sha"] = json!(p.merge_commit_sha);
    v["closed_at"] = if p.state == "open" {
        Value::Null
    } else {
        json!(p.updated_at)
    };
    if single {
        v["merged"] = json!(p.state == "merged");
        v["additions"] = json!(p.additions);
        v["deletions"] = json!(p.deletions);
        v["changed_files"] = json!(p.changed_files);
        v["commits"] = json!(p.commits);
        v["mergeable"] = json!(p.mergeable);
        v["mergeable_state"] = json!(if p.draft {
            "draft"
        } else if p.mergeable {
            "clean"
        } else {
            "dirty"
        });
    } else if let Some(o) = v.as_object_mut() {
        // The list's "pull-request-simple" lacks these (see FORMATS.md 4.1).
        for k in [
            "merged",
            "mergeable",
            "rebaseable",
            "mergeable_state",
            "merged_by",
            "comments",
            "review_comments",
            "maintainer_can_modify",
            "commits",
            "additions",
            "deletions",
            "changed_files",
        ] {
            o.remove(k);
        }
    }
    v
}

#[derive(serde::Deserialize)]
struct ListQuery {
    state: Option<String>,
    /// Issues carrying every one of these comma-separated labels.
    labels: Option<String>,
    per_page: Option<usize>,
    page: Option<usize>,
}

async fn list_pulls(
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
    let mut pulls: Vec<Pr> = lookup(&hub, &full, |r| Some(r.pulls.clone()));
    pulls.retain(|p| match want.as_str() {
        "all" => true,
        "closed" => p.state != "open",
        _ => p.state == "open",
    });
    pulls.sort_by_key(|p| std::cmp::Reverse(p.number));
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let pages = pulls.len().div_ceil(per_page).max(1);
    let page = q.page.unwrap_or(1).max(1);
    let items: Vec<Value> = pulls
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|p| pull_json(&full, p, false))
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let url = |n: usize| {
        format!("<http://{host}/repos/{full}/pulls?state={want}&per_page={per_page}&page={n}>")
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(pages)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    let link = (!links.is_empty()).then(|| links.join(", "));
    answer(&hub, &headers, Value::Array(items), link)
}

async fn one_pull(
    State(hub): State<Hub>,
    Path(path): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    match gated_pull(&hub, &headers, path).await {
        Ok((_, full, p)) => answer(&hub, &headers, pull_json(&full, &p, true), None),
        Err(r) => r,
    }
}

/// What every `/pulls/{number}/…` handler starts with: the gate, then the pull request.
/// `Ok` carries the after-apply fault (if any), the repo's full name and the pull request.
async fn gated_pull(
    hub: &Hub,
    headers: &HeaderMap,
    (owner, repo, number): (String, String, u64),
) -> Result<(Option<u16>, String, Pr), Response> {
    let lost = gate(hub, headers).await?;
    let full = format!("{owner}/{repo}");
    let pr = find_pull(hub, &full, number).ok_or_else(not_found)?;
    Ok((lost, full, pr))
}

/// Stores a review (login, state, body, commit) under a fresh id and moves the pull
/// request's `updated_at`, as a submitted review does on GitHub.
fn record_review(
    i: &mut Inner,
    repo: &str,
    number: u64,
    (login, state, body, commit): (String, String, String, String),
) -> Review {
    i.next_id += 1;
    let review: Review = (i.next_id, login, state, body, commit);
    let r = i.repos.entry(repo.into()).or_default();
    r.reviews.entry(number).or_default().push(review.clone());
    touch(r, number);
    review
}

/// Moves a pull request's `updated_at` to now, as GitHub does on a review or a merge.
fn touch(repo: &mut Repo, number: u64) {
    if let Some(p) = repo.pulls.iter_mut().find(|p| p.number == number) {
        p.updated_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    }
}

fn find_pull(hub: &Hub, full: &str, number: u64) -> Option<Pr> {
    lookup(hub, full, |r| {
        Some(r.pulls.iter().find(|p| p.number == number).cloned())
    })
}

/// `f` on a repo's state; the default when the repo is unknown.
fn lookup<T: Default>(hub: &Hub, full: &str, f: impl FnOnce(&Repo) -> Option<T>) -> T {
    hub.with(|i| i.repos.get(full).and_then(f).unwrap_or_default())
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        json_body(r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}"#),
    )
        .into_response()
}

/// `/commits/{sha}/check-runs` and `/commits/{sha}/status`.
async fn commit_info(
    State(hub): State<Hub>,
    Path((owner, repo, sha, what)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let body = match what.as_str() {
        "check-runs" => check_runs_body(&hub, &full, &sha),
        "status" => status_body(&hub, &full, &sha),
        _ => return not_found(),
    };
    answer(&hub, &headers, body, None)
}

fn check_runs_body(hub: &Hub, full: &str, sha: &str) -> Value {
    let runs = lookup(hub, full, |r| r.check_runs.get(sha).cloned());
    let template: Value = serde_json::from_str(CHECK_RUNS).unwrap_or_else(|_| json!({}));
    let one = template["check_runs"][0].clone();
    let items: Vec<Value> = runs
        .iter()
        .enumerate()
        .map(|(n, (name, status, conclusion))| {
            let mut v = one.clone();
            v["id"] = json!(1000 + n);
            v["name"] = json!(name);
            v["head_sha"] = json!(sha);
            v["status"] = json!(status);
            v["conclusion"] = json!(conclusion);
            v["html_url"] = json!(format!("https://github.com/{full}/actions/runs/{n}"));
            v
        })
        .collect();
    json!({"total_count": items.len(), "check_runs": items})
}

fn status_body(hub: &Hub, full: &str, sha: &str) -> Value {
    let statuses = lookup(hub, full, |r| r.statuses.get(sha).cloned());
    let template: Value = serde_json::from_str(STATUS).unwrap_or_else(|_| json!({}));
    let one = template["statuses"][0].clone();
    let items: Vec<Value> = statuses
        .iter()
        .map(|(context, state)| {
            let mut v = one.clone();
            v["context"] = json!(context);
            v["state"] = json!(state);
            v
        })
        .collect();
    // GitHub's rule: failure if any failed, pending if none or any pending, else success.
    let combined = if statuses.iter().any(|(_, s)| s == "failure" || s == "error") {
        "failure"
    } else if statuses.is_empty() || statuses.iter().any(|(_, s)| s == "pending") {
        "pending"
    } else {
        "success"
    };
    let mut body = template;
    body["state"] = json!(combined);
    body["sha"] = json!(sha);
    body["total_count"] = json!(items.len());
    body["statuses"] = Value::Array(items);
    body
}

/// `GET /user`: the token's owner, in the recorded user shape (a pull request's `user`).
async fn user(State(hub): State<Hub>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let pull: Value = serde_json::from_str(PULL).unwrap_or_else(|_| json!({}));
    let mut u = pull["user"].clone();
    let login = hub.with(|i| i.login.clone());
    u["login"] = json!(login);
    u["type"] = json!("User");
    u["html_url"] = json!(format!("https://github.com/{login}"));
    answer(&hub, &headers, u, None)
}

async fn rate_limit(State(hub): State<Hub>) -> Response {
    let (limit, remaining, reset) = hub.with(|i| (i.limit, i.remaining, i.reset));
    let core = json!({"limit": limit, "remaining": remaining.max(0), "reset": reset, "used": limit - remaining.max(0)});
    axum::Json(json!({"resources": {"core": core}, "rate": core})).into_response()
}

fn review_json(full: &str, number: u64, r: &Review) -> Value {
    let mut v: Value = serde_json::from_str(REVIEW).unwrap_or_else(|_| json!({}));
    let (id, login, state, body, commit) = r;
    v["id"] = json!(id);
    v["user"]["login"] = json!(login);
    v["user"]["type"] = json!(if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    });
    v["state"] = json!(state);
    v["body"] = json!(body);
    v["commit_id"] = json!(commit);
    v["html_url"] = json!(format!(
        "https://github.com/{full}/pull/{number}#pullrequestreview-{id}"
    ));
    v
}

async fn list_reviews(
    State(hub): State<Hub>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&hub, &headers).await {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let items: Vec<Value> = hub
        .reviews(&full, number)
        .iter()
        .map(|r| review_json(&full, number, r))
        .collect();
    answer(&hub, &headers, Value::Array(items), None)
}

fn unprocessable(message: &str) -> Response {
    let body = json!({"message": message, "documentation_url": "https://docs.github.com/rest/pulls/reviews", "status": "422"});
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

async fn create_review(
    State(hub): State<Hub>,
    Path(path): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let number = path.2;
    let (lost, full, pr) = match gated_pull(&hub, &headers, path).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Ok(req) = serde_json::from_str::<Value>(&body) else {
        return unprocessable("Problems parsing JSON");
    };
    let text = req["body"].as_str().unwrap_or("").to_string();
    let state = match req["event"].as_str() {
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") if !text.is_empty() => "CHANGES_REQUESTED",
        Some("COMMENT") if !text.is_empty() => "COMMENTED",
        Some("REQUEST_CHANGES" | "COMMENT") => {
            return unprocessable("Unprocessable Entity: body is required for this event")
        }
        None => "PENDING",
        Some(other) => {
            return unprocessable(&format!("Unprocessable Entity: unknown event {other}"))
        }
    };
    let commit = req["commit_id"]
        .as_str()
        .unwrap_or(&pr.head_sha)
        .to_string();
    let review = hub.with(|i| {
        i.remaining -= 1;
        let login = i.login.clone();
        record_review(i, &full, number, (login, state.into(), text, commit))
    });
    applied(
        &hub,
        lost,
        axum::Json(review_json(&full, number, &review)).into_response(),
    )
}

async fn merge(
    State(hub): State<Hub>,
    Path(path): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let number = path.2;
    let (lost, full, pr) = match gated_pull(&hub, &headers, path).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let req: Value = serde_json::from_str(&body).unwrap_or_else(|_| json!({}));
    hub.with(|i| i.remaining -= 1);
    if let Some(sha) = req["sha"].as_str() {
        if sha != pr.head_sha {
            return (StatusCode::CONFLICT, json_body(HEAD_MOVED)).into_response();
        }
    }
    if pr.state != "open" || !pr.mergeable {
        return (StatusCode::METHOD_NOT_ALLOWED, json_body(NOT_MERGEABLE)).into_response();
    }
    let merged_sha = format!("{:040x}", number.wrapping_mul(0x9e37_79b9));
    hub.with(|i| {
        let r = i.repos.entry(full.clone()).or_default();
        *r.merges.entry(number).or_default() += 1;
        r.merge_methods
            .entry(number)
            .or_default()
            .push(req["merge_method"].as_str().unwrap_or("merge").to_string());
        if let Some(p) = r.pulls.iter_mut().find(|p| p.number == number) {
            p.state = "merged".into();
            p.merge_commit_sha = Some(merged_sha.clone());
        }
        touch(r, number);
    });
    let ok =
        json!({"sha": merged_sha, "merged": true, "message": "Pull Request successfully merged"});
    applied(&hub, lost, axum::Json(ok).into_response())
}

/// `PATCH /pulls/{number}`: only `{"state": "closed"|"open"}` is taken, as the client uses it.
async fn update_pull(
    State(hub): State<Hub>,
    Path(path): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let number = path.2;
    let (lost, full, pr) = match gated_pull(&hub, &headers, path).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let req: Value = serde_json::from_str(&body).unwrap_or_else(|_| json!({}));
    let state = match req["state"].as_str() {
        None => pr.state.clone(),
        Some(s @ ("open" | "closed")) => s.to_string(),
        Some(other) => return unprocessable(&format!("Validation Failed: state `{other}`")),
    };
    if pr.state == "merged" && state == "open" {
        return unprocessable("Validation Failed: a merged pull request cannot be reopened");
    }
    let pr = hub.with(|i| {
        i.remaining -= 1;
        let r = i.repos.entry(full.clone()).or_default();
        if state == "closed" && pr.state == "open" {
            *r.closes.entry(number).or_default() += 1;
        }
        touch(r, number);
        let p = r.pulls.iter_mut().find(|p| p.number == number)?;
        if p.state != "merged" {
            p.state = state;
        }
        Some(p.clone())
    });
    match pr {
        Some(pr) => applied(
            &hub,
            lost,
            axum::Json(pull_json(&full, &pr, true)).into_response(),
        ),
        None => not_found(),
    }
}

#[derive(serde::Deserialize)]
struct PageQuery {
    per_page: Option<usize>,
    page: Option<usize>,
}

async fn files(
    State(hub): State<Hub>,
    Path(path): Path<(String, String, u64)>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let number = path.2;
    let (_, full, pr) = match gated_pull(&hub, &headers, path).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let pages = pr.files.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = pr
        .files
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|(name, status, patch)| {
            let count = |c: char| {
                patch.as_deref().map_or(0, |p| {
                    p.lines()
                        .filter(|l| l.starts_with(c) && !l.starts_with("@@"))
                        .count()
                })
            };
            let (additions, deletions) = (count('+'), count('-'));
            let mut v = json!({
                "sha": format!("{:040x}", name.len()),
                "filename": name,
                "status": status,
                "additions": additions,
                "deletions": deletions,
                "changes": additions + deletions,
                "blob_url": format!("https://github.com/{full}/blob/{}/{name}", pr.head_sha),
            });
            if let Some(p) = patch {
                v["patch"] = json!(p);
            }
            v
        })
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let link = (page < pages).then(|| {
        format!(
            "<http://{host}/repos/{full}/pulls/{number}/files?per_page={per_page}&page={}>; rel=\"next\"",
            page + 1
        )
    });
    answer(&hub, &headers, Value::Array(items), link)
}
