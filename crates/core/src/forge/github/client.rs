//! The REST client: conditional requests (ETag), pagination by `link`, rate limits (primary and
//! secondary, `retry-after`), retries with jittered backoff. The token is held here only, and
//! goes only to the API's own origin: over https (plain http only to this machine), `next`
//! links and redirects followed only on that origin.

use super::*;

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
pub(super) struct Cached {
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
        if token.is_some() {
            crate::model::secrets::check_secret_url(api_url).map_err(GitHubError::Refused)?;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            // GitHub redirects renamed repositories within its API; anything leaving the
            // origin is not followed with the token.
            .redirect(crate::model::secrets::same_origin_redirects())
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

    /// The API base URL requests go to (the host the outbox pauses when it does not answer).
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn rate(&self) -> RateState {
        self.rate.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The URL of a path under the API, or an absolute URL (a `next` link) on the API's own
    /// origin: the token never follows a link elsewhere.
    fn url(&self, path_or_url: &str) -> Result<String, GitHubError> {
        if !(path_or_url.starts_with("http://") || path_or_url.starts_with("https://")) {
            return Ok(format!("{}{path_or_url}", self.base));
        }
        let same = match (
            reqwest::Url::parse(path_or_url),
            reqwest::Url::parse(&self.base),
        ) {
            (Ok(u), Ok(base)) => crate::model::secrets::same_origin(&u, &base),
            _ => false,
        };
        if same {
            Ok(path_or_url.to_string())
        } else {
            Err(GitHubError::Refused(format!(
                "{path_or_url}: not on {}'s origin; the link is not followed",
                self.base
            )))
        }
    }

    /// One GET: the body and the next page's URL, from cache when GitHub says 304.
    pub async fn get(&self, path_or_url: &str) -> Result<(Value, Option<String>), GitHubError> {
        let url = self.url(path_or_url)?;
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
                Err(e) => return Err(send_error(url, e)),
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
                        300..=399 => return Err(not_followed(url, status, &headers)),
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
                        url: self.url(&url)?,
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
        let url = self.url(path)?;
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
        let resp = req.send().await.map_err(|e| send_error(url.clone(), e))?;
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
pub(super) fn limited(h: &HeaderMap, body: &str) -> Option<GitHubError> {
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

/// A redirect the client stopped at: it led off the API's origin, where the token does not go.
fn not_followed(url: String, status: u16, h: &HeaderMap) -> GitHubError {
    let to = h
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no location)");
    GitHubError::Http {
        url,
        status,
        message: format!("a redirect to {to}, not followed: the token stays on the API's origin"),
    }
}

pub(super) fn http_error(url: String, status: u16, body: &str) -> GitHubError {
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
pub(super) fn next_link(h: &HeaderMap) -> Option<String> {
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

pub(super) fn jitter_fraction() -> f64 {
    let mut b = [0u8; 2];
    let _ = getrandom::getrandom(&mut b);
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

/// A request that got no answer: `Unreachable` when the host was not reached or did not
/// answer in time (the outbox pauses it), `Network` for any other failure on the way.
fn send_error(url: String, e: reqwest::Error) -> GitHubError {
    let unreachable = e.is_connect() || e.is_timeout();
    let message = e.without_url().to_string();
    if unreachable {
        GitHubError::Unreachable { url, message }
    } else {
        GitHubError::Network { url, message }
    }
}
