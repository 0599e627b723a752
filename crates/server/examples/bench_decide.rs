//! Decision latency while the forge is unreachable: `bench_decide [FLIGHTDECK_BIN]`.
//!
//! A SQLite store holds 20 pull requests synced from a local fake GitHub and 1,000 decisions
//! already queued for them; then the forge goes away, three ways: a closed port (connection
//! refused), a name that does not resolve (`.invalid`), and a port that accepts connections but
//! never answers. For each, 200 approvals go through the API's router (the path the UI's button
//! takes) and, given the release `flightdeck` binary, 20 through `flightdeck approve` (a whole
//! process each). Prints p50, p99 and max per way; the target is p99 under 200 ms.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flightdeck_app::lead::GitHubAccess;
use flightdeck_app::Lead;
use flightdeck_core::domain::outbox::{self, Payload};
use flightdeck_core::forge::github::{change_id, sync_repo, GitHub};
use flightdeck_core::model::events::EventBus;
use flightdeck_core::model::ActionKind;
use flightdeck_core::store::Store;
use flightdeck_server::{router, AppState};
use tower::ServiceExt;

const REPO: &str = "acme/widgets";
const PULLS: u64 = 20;
const QUEUED: u64 = 1_000;
const API_SAMPLES: usize = 200;
const CLI_SAMPLES: usize = 20;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = std::env::args().nth(1).map(PathBuf::from);
    // Accepts (the kernel completes the handshake) and never reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    let ways = [
        ("connection refused", "http://127.0.0.1:1".to_string()),
        (
            "no DNS answer",
            "http://github.flightdeck.invalid".to_string(),
        ),
        ("never answers", format!("http://{}", silent.local_addr()?)),
    ];
    println!(
        "{QUEUED} decisions queued for GitHub, the forge unreachable; target: p99 under 200 ms"
    );
    println!(
        "{:<20} {:>5} {:>9} {:>9} {:>9}",
        "forge", "via", "p50 ms", "p99 ms", "max ms"
    );
    for (name, down) in &ways {
        let dir = tempfile::tempdir()?;
        let db = format!("sqlite://{}", dir.path().join("fd.db").display());
        let store = prepare(&db).await?;
        let state = AppState {
            store: store.clone(),
            bus: EventBus::new(),
            ui_dir: None,
            access: Default::default(),
            // A script's access: the bearer token.
            token: Some("bench-api".into()),
            secure_cookies: false,
            tls_ca: None,
            tls_fingerprint: None,
            policy_file: None,
            lead: Some(lead(dir.path(), down)),
            webhook_token: None,
            recent: Default::default(),
            notifier: None,
        };
        let mut api = Vec::new();
        for i in 0..API_SAMPLES {
            let n = i as u64 % PULLS + 1;
            let id: String =
                form_urlencoded::byte_serialize(change_id(REPO, n).as_bytes()).collect();
            let req = Request::post(format!("/api/changes/{id}/actions"))
                .header("content-type", "application/json")
                .header("authorization", "Bearer bench-api")
                .body(Body::from(r#"{"kind":"approve","comment":"ok"}"#))?;
            let t = Instant::now();
            let res = router(state.clone()).oneshot(req).await?;
            api.push(t.elapsed());
            anyhow::ensure!(
                res.status() == StatusCode::OK,
                "decision {i}: HTTP {}",
                res.status()
            );
        }
        report(name, "api", &mut api);
        if let Some(bin) = &cli {
            let mut times = Vec::new();
            for i in 0..CLI_SAMPLES {
                let n = i as u64 % PULLS + 1;
                let t = Instant::now();
                let out = std::process::Command::new(bin)
                    .args(["--database-url", &db, "approve", &change_id(REPO, n)])
                    .args(["--comment", "ok"])
                    .env("FLIGHTDECK_GITHUB_API", down)
                    .env("GH_TOKEN", "bench-token")
                    .env("FLIGHTDECK_AUDIT_KEY", dir.path().join("audit-key"))
                    .env("FLIGHTDECK_USER", "bench")
                    .env("XDG_CONFIG_HOME", dir.path().join("config"))
                    .env("XDG_DATA_HOME", dir.path().join("data"))
                    .output()?;
                times.push(t.elapsed());
                anyhow::ensure!(
                    out.status.success(),
                    "flightdeck approve: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            report(name, "cli", &mut times);
        }
        store.close().await;
    }
    drop(silent);
    Ok(())
}

/// A store with the fake's pull requests and `QUEUED` approvals waiting for them.
async fn prepare(db: &str) -> anyhow::Result<Store> {
    let hub = fakehub::Hub::new();
    hub.add_numbered_pulls(REPO, PULLS);
    let url = hub.serve(0).await?;
    let store = Store::open(db).await?;
    let gh = GitHub::new(&url, Some("bench-token".into()))?;
    sync_repo(&gh, &store, REPO, "/w/widgets").await?;
    for i in 0..QUEUED {
        let n = i % PULLS + 1;
        let p = Payload {
            repo: REPO.into(),
            number: Some(n),
            sha: format!("sha{n}"),
            body: Some(format!("queued {i}")),
            ..Default::default()
        };
        outbox::enqueue(
            &store,
            ActionKind::Approve,
            &change_id(REPO, n),
            &p,
            "bench",
            1,
        )
        .await?;
    }
    Ok(store)
}

fn lead(dir: &Path, api_url: &str) -> Lead {
    Lead {
        name: "bench".into(),
        email: "bench@localhost".into(),
        audit_key: dir.join("audit-key"),
        github: Some(GitHubAccess::with_token(
            api_url,
            Some("bench-token".into()),
        )),
        growthbook: None,
        agents: Default::default(),
        data_dir: dir.join("data"),
        sources: None,
        policy_file: dir.join("no-policy.toml"),
        reach: Default::default(),
        person: flightdeck_core::domain::team::Person::named("bench"),
        team: Default::default(),
    }
}

fn report(forge: &str, via: &str, xs: &mut [Duration]) {
    xs.sort();
    let at = |p: f64| xs[((p * (xs.len() - 1) as f64).round() as usize).min(xs.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<20} {:>5} {:>9.1} {:>9.1} {:>9.1}",
        forge,
        via,
        ms(at(0.5)),
        ms(at(0.99)),
        ms(xs[xs.len() - 1])
    );
}
