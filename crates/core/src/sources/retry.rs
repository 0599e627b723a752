//! One HTTP request as every service client here sends it: answered, or retried where a retry
//! can help — a connection that failed and a 5xx after a jittered, doubling backoff, a 429
//! after its `Retry-After` (when that is within the wait allowed) — and otherwise handed back
//! as it came, for the client to turn into its own error.

use std::future::Future;
use std::time::Duration;

/// How a client retries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    /// Tries in all (the first included).
    pub attempts: u32,
    /// The first backoff; each retry waits twice the one before, times a jitter of 0.5–1.5.
    pub backoff: Duration,
    /// The longest `Retry-After` waited out; a longer one ends the request as rate limited.
    pub max_wait: Duration,
    /// Whether a failed connection or a 5xx is sent again: not for a request that may have
    /// taken effect when its answer was lost (the caller checks instead).
    pub resend: bool,
}

/// How the request ended.
#[derive(Debug)]
pub(crate) enum Sent {
    /// An answer that is not retried (any status but a 429 within the wait, or a 5xx while
    /// attempts are left): its status and body.
    Answered { status: u16, text: String },
    /// 429s beyond the attempts or the wait allowed.
    RateLimited { retry_after_secs: u64 },
    /// No answer: the connection's error (without the URL, which may hold a query).
    Network(String),
}

/// Sends what `request` builds (it may wait first, as a client honouring a rate-limit window
/// does) until it is answered as [`Sent`] says; `headers` sees every answer's headers.
pub(crate) async fn send<F, Fut>(
    policy: Retry,
    what: &str,
    mut request: F,
    mut headers: impl FnMut(&reqwest::header::HeaderMap),
) -> Sent
where
    F: FnMut() -> Fut,
    Fut: Future<Output = reqwest::RequestBuilder>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let req = request().await;
        let wait = policy.backoff * 2u32.pow(attempt - 1);
        let jittered = wait.mul_f64(0.5 + jitter());
        let more = attempt < policy.attempts;
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if more && policy.resend => {
                tracing::debug!("{what}: {e}; retrying");
                tokio::time::sleep(jittered).await;
                continue;
            }
            Err(e) => return Sent::Network(e.without_url().to_string()),
        };
        let status = resp.status().as_u16();
        headers(resp.headers());
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = resp.text().await.unwrap_or_default();
        match status {
            429 => {
                let secs = retry_after.unwrap_or(60);
                if more && Duration::from_secs(secs) <= policy.max_wait {
                    tokio::time::sleep(Duration::from_secs(secs).max(jittered)).await;
                    continue;
                }
                return Sent::RateLimited {
                    retry_after_secs: secs,
                };
            }
            500..=599 if more && policy.resend => {
                tracing::debug!("{what}: HTTP {status}; retrying");
                tokio::time::sleep(jittered).await;
                continue;
            }
            _ => return Sent::Answered { status, text },
        }
    }
}

/// A number in [0, 1] from the OS's randomness, so clients that failed together do not retry
/// together.
fn jitter() -> f64 {
    let mut b = [0u8; 2];
    let _ = getrandom::getrandom(&mut b);
    u16::from_le_bytes(b) as f64 / u16::MAX as f64
}
