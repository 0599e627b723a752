//! A load generator for a running `flightdeck serve`:
//! `load URL TOKEN CLIENTS SECONDS [STREAMS] [PAUSE_MS]`.
//!
//! CLIENTS clients each fetch what the UI fetches, view after view (every JSON view and chart,
//! the Changes view with the policy judged included), as fast as answers come (or PAUSE_MS
//! apart, as a UI polling), for SECONDS seconds, each on its own keep-alive connection; STREAMS clients (default CLIENTS) hold the
//! event stream open the whole time. Prints one JSON object: per view the requests, errors,
//! p50/p99/max ms; per stream the events heard, gaps in their sequence numbers and resyncs.
//! SECONDS 0 makes each client fetch every view once (a warm-up).
//! Used by `bench/run.py` (sections `load` and `soak`); latency is measured here, in Rust, so
//! the figures are the server's and not a slow client's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// What the UI fetches: every view's JSON and the charts those views show.
const VIEWS: [&str; 22] = [
    "/api/inbox",
    "/api/changes",
    "/api/agents",
    "/api/repos",
    "/api/work",
    "/api/releases",
    "/api/experiments",
    "/api/spend",
    "/api/velocity",
    "/api/dora",
    "/api/cycle",
    "/api/team",
    "/api/audit",
    "/api/outbox",
    "/api/session",
    "/api/velocity/report",
    "/api/charts/spend-by-day.svg",
    "/api/charts/spend-by-vendor.svg",
    "/api/charts/commits-by-week.svg",
    "/api/charts/agent-share.svg",
    "/api/charts/cycle-phases.svg",
    "/api/charts/lead-time-distribution.svg",
];

#[derive(Default)]
struct Tally {
    ms: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
}

#[derive(Default, Debug)]
struct Heard {
    events: u64,
    /// Events missing between two consecutive sequence numbers.
    gaps: u64,
    resyncs: u64,
    first: Option<u64>,
    last: Option<u64>,
    error: Option<String>,
}

/// An error with its causes ("error sending request: … : operation timed out").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn client(
    http: reqwest::Client,
    base: Arc<str>,
    token: Arc<str>,
    start: usize,
    until: Instant,
    pause: Duration,
    tally: Arc<Mutex<BTreeMap<&'static str, Tally>>>,
) {
    let mut i = start;
    // SECONDS 0: one pass over every view (a warm-up), however long it takes.
    let once = Instant::now() >= until;
    while (once && i < start + VIEWS.len()) || (!once && Instant::now() < until) {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let view = VIEWS[i % VIEWS.len()];
        i += 1;
        let t = Instant::now();
        let res = http
            .get(format!("{base}{view}"))
            .bearer_auth(&*token)
            .send()
            .await;
        let outcome = match res {
            Ok(r) if r.status().is_success() => r.bytes().await.map(|_| ()).map_err(|e| chain(&e)),
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                Err(format!(
                    "{status}: {}",
                    body.chars().take(200).collect::<String>()
                ))
            }
            Err(e) => Err(chain(&e)),
        };
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let mut all = tally.lock().await;
        let v = all.entry(view).or_default();
        match outcome {
            Ok(()) => v.ms.push(ms),
            Err(e) => {
                v.errors += 1;
                v.first_error.get_or_insert(e);
            }
        }
    }
}

/// Reads the event stream until `until`, checking that the SSE ids run without a gap.
async fn stream(http: reqwest::Client, base: Arc<str>, token: Arc<str>, until: Instant) -> Heard {
    let mut heard = Heard::default();
    let res = match http
        .get(format!("{base}/api/events"))
        .bearer_auth(&*token)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            heard.error = Some(format!("event stream: {}", r.status()));
            return heard;
        }
        Err(e) => {
            heard.error = Some(format!("event stream: {}", chain(&e)));
            return heard;
        }
    };
    let mut res = res;
    let mut buf = String::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let chunk = match tokio::time::timeout(left, res.chunk()).await {
            Err(_) => break,
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => {
                heard.error = Some("the server ended the event stream".into());
                break;
            }
            Ok(Err(e)) => {
                heard.error = Some(format!("event stream: {}", chain(&e)));
                break;
            }
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if !event.contains("data: ") {
                continue; // a keep-alive comment
            }
            heard.events += 1;
            if event.contains(r#""topics":[]"#) && event.contains("resync") {
                heard.resyncs += 1;
            }
            let id = event
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .and_then(|v| v.trim().parse::<u64>().ok());
            if let Some(id) = id {
                if let Some(last) = heard.last {
                    heard.gaps += id.saturating_sub(last + 1);
                }
                heard.first.get_or_insert(id);
                heard.last = Some(id);
            }
        }
    }
    heard
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: load URL TOKEN CLIENTS SECONDS [STREAMS] [PAUSE_MS]";
    let (Some(base), Some(token), Some(clients), Some(seconds)) =
        (args.first(), args.get(1), args.get(2), args.get(3))
    else {
        return Err(usage.into());
    };
    let clients: usize = clients.parse().map_err(|_| usage)?;
    let seconds: u64 = seconds.parse().map_err(|_| usage)?;
    let streams: usize = match args.get(4) {
        Some(s) => s.parse().map_err(|_| usage)?,
        None => clients,
    };
    let pause = Duration::from_millis(match args.get(5) {
        Some(s) => s.parse().map_err(|_| usage)?,
        None => 0,
    });
    let base: Arc<str> = base.trim_end_matches('/').into();
    let token: Arc<str> = token.as_str().into();
    // One connection per client, as each browser tab keeps its own.
    let until = Instant::now() + Duration::from_secs(seconds);
    let tally = Arc::new(Mutex::new(BTreeMap::new()));
    let mut listeners = Vec::new();
    for _ in 0..streams {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        listeners.push(tokio::spawn(stream(
            http,
            base.clone(),
            token.clone(),
            until + Duration::from_secs(2),
        )));
    }
    let mut fetchers = Vec::new();
    for c in 0..clients {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(60))
            .build()?;
        fetchers.push(tokio::spawn(client(
            http,
            base.clone(),
            token.clone(),
            c * 7,
            until,
            pause,
            tally.clone(),
        )));
    }
    for f in fetchers {
        f.await?;
    }
    let mut heard = Vec::new();
    for l in listeners {
        heard.push(l.await?);
    }
    let tally = tally.lock().await;
    let mut views = serde_json::Map::new();
    let mut all = Vec::new();
    for (view, t) in tally.iter() {
        let mut ms = t.ms.clone();
        ms.sort_by(f64::total_cmp);
        all.extend_from_slice(&ms);
        views.insert(
            (*view).to_string(),
            serde_json::json!({
                "requests": ms.len() as u64 + t.errors,
                "errors": t.errors,
                "first_error": t.first_error,
                "p50_ms": pct(&ms, 50.0),
                "p99_ms": pct(&ms, 99.0),
                "max_ms": ms.last().copied().unwrap_or(0.0),
            }),
        );
    }
    all.sort_by(f64::total_cmp);
    let out = serde_json::json!({
        "clients": clients,
        "seconds": seconds,
        "views": views,
        "all": {
            "requests": all.len(),
            "p50_ms": pct(&all, 50.0),
            "p99_ms": pct(&all, 99.0),
        },
        "streams": heard.iter().map(|h| serde_json::json!({
            "events": h.events,
            "gaps": h.gaps,
            "resyncs": h.resyncs,
            "first_id": h.first,
            "last_id": h.last,
            "error": h.error,
        })).collect::<Vec<_>>(),
    });
    println!("{out}");
    Ok(())
}
