//! The real desktop app under a display: tauri-driver drives WebKitWebDriver, which starts the
//! built `flightdeck-desktop` on a demo database; the test reads the rendered DOM back and saves
//! a screenshot to `tests/artifacts/desktop.png`.
//!
//! Needs a display (Xvfb), `WebKitWebDriver` (Debian's webkit2gtk-driver) and `tauri-driver` on
//! PATH, so it is ignored by default; `scripts/test.sh` runs it under `xvfb-run` with
//! `--include-ignored`. Built as the `flightdeck-desktop` package's test
//! (`src-tauri/Cargo.toml`), so the app under test is the one cargo just built.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

#[path = "../support/mod.rs"]
mod support;
use flightdeck_core::model::DispatchState;
use flightdeck_core::store::Store;
use flightdeck_core::{demo, domain::ingest};
use support::{fake_agent, git, now, Server};

/// tauri-driver and the WebKitWebDriver it starts on `native`; killing tauri-driver leaves
/// WebKitWebDriver running (and holding the test's stdout open), so both are stopped.
struct Driver {
    child: Child,
    native: u16,
}
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("pkill")
            .args(["-f", &format!("WebKitWebDriver --port={}", self.native)])
            .status();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
#[ignore = "needs a display, WebKitWebDriver and tauri-driver: scripts/test.sh runs it under xvfb-run"]
async fn window_renders_demo_data_from_the_store() {
    let app = env!("CARGO_BIN_EXE_flightdeck-desktop");
    let tmp = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ws = demo::build(&tmp.path().join("demo"), now).unwrap();
    let db = tmp.path().join("flightdeck.db");
    let db_url = format!("sqlite://{}", db.display());
    {
        let store = Store::open(&db_url).await.unwrap();
        ingest::run(&store, &ws.sources(), None, now).await.unwrap();
        demo::seed_unsourced(&store, &ws, now).await.unwrap();
        store.close().await;
    }

    let port = free_port();
    let native = free_port();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let driver = Command::new("tauri-driver")
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        // The app inherits these: the demo database, and a home with no agent logs of its own.
        .env("FLIGHTDECK_DATABASE_URL", &db_url)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tauri-driver on PATH (cargo install tauri-driver --version 2.1.0 --locked)");
    let _driver = Driver {
        child: driver,
        native,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "tauri-driver did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with the app");

    let result = async {
        let inbox = client
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::Css("[data-testid=view-inbox] [data-testid=row]"))
            .await?;
        let first = inbox.text().await?;
        let view = client
            .find(Locator::Css("[data-testid=view-inbox]"))
            .await?
            .text()
            .await?;
        assert!(
            view.contains("Review:"),
            "inbox shows reviews from the store: {view}"
        );
        assert!(
            view.contains("Approve release"),
            "and the pending release: {view}"
        );
        assert!(!first.is_empty());

        // Locked down (tauri.conf.json and src-tauri/capabilities): change events still arrive
        // (the one command the UI uses), but there is no global Tauri object, a script the app
        // did not ship does not run, any other command is refused, and nothing outside the app
        // is fetched.
        let live = client.find(Locator::Css("[data-testid=live]")).await?;
        let mut live_text = live.text().await?;
        for _ in 0..100 {
            if live_text.contains("live") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            live_text = live.text().await?;
        }
        assert!(live_text.contains("live"), "change events: {live_text}");
        let outside = TcpListener::bind("127.0.0.1:0").unwrap();
        outside.set_nonblocking(true).unwrap();
        let outside_url = format!("http://{}/steal", outside.local_addr().unwrap());
        let probe = client
            .execute_async(
                r#"
                const [url, done] = arguments;
                const out = { globalTauri: typeof window.__TAURI__ };
                const s = document.createElement('script');
                s.textContent = 'window.__injected = 1';
                document.head.appendChild(s);
                out.injectedRan = window.__injected === 1;
                const invoke = (cmd, args) => window.__TAURI_INTERNALS__.invoke(cmd, args)
                  .then(() => 'allowed', (e) => 'refused: ' + e);
                Promise.all([
                  invoke('plugin:event|emit', { event: 'flightdeck-changed', payload: null }),
                  invoke('plugin:notification|notify', { options: { title: 'x' } }),
                  // The test's listener never answers: a request let through hangs.
                  Promise.race([
                    fetch(url).then(() => 'fetched', (e) => 'blocked: ' + e),
                    new Promise((r) => setTimeout(() => r('sent, no answer yet'), 3000)),
                  ]),
                ]).then(([emit, notify, fetched]) => {
                  out.emit = emit; out.notify = notify; out.fetched = fetched; done(out);
                });
                "#,
                vec![serde_json::json!(outside_url)],
            )
            .await?;
        assert_eq!(probe["globalTauri"], "undefined", "{probe}");
        assert_eq!(probe["injectedRan"], false, "{probe}");
        // Refused for want of a permission, not for some other failure (no notification
        // service under Xvfb, say).
        for key in ["emit", "notify"] {
            let answer = probe[key].as_str().unwrap_or_default();
            assert!(
                answer.starts_with("refused") && answer.contains("not allowed"),
                "{key}: {probe}"
            );
        }
        assert!(
            probe["fetched"]
                .as_str()
                .unwrap_or_default()
                .starts_with("blocked"),
            "{probe}"
        );
        assert!(
            outside.accept().is_err(),
            "the page connected to {outside_url}"
        );

        client
            .find(Locator::Css("[data-testid=nav-changes]"))
            .await?
            .click()
            .await?;
        client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("[data-testid=view-changes] [data-testid=row]"))
            .await?;
        let changes = client
            .find(Locator::Css("[data-testid=view-changes]"))
            .await?
            .text()
            .await?;
        assert!(changes.contains("claude/add-rate-limiting"), "{changes}");
        // The review queue: the six open agent branches; under "All", the merged pull
        // requests behind main's history too.
        let count_rows = || async {
            let rows = client
                .find_all(Locator::Css("[data-testid=view-changes] [data-testid=row]"))
                .await?;
            let (mut merged, mut closed) = (0, 0);
            for row in &rows {
                let text = row.text().await?;
                merged += usize::from(text.contains("merged"));
                closed += usize::from(text.contains("closed"));
            }
            Ok::<_, fantoccini::error::CmdError>((rows.len() - merged - closed, merged, closed))
        };
        assert_eq!(count_rows().await?, (6, 0, 0), "{changes}");
        client
            .find(Locator::Css(
                "[data-testid=changes-filter] button:last-child",
            ))
            .await?
            .click()
            .await?;
        // The click re-renders the list: wait for the history to show.
        let mut counted = count_rows().await?;
        for _ in 0..50 {
            if counted.1 > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            counted = count_rows().await?;
        }
        let (open, merged, closed) = counted;
        assert_eq!(open, 6, "{changes}");
        assert!(merged > 10, "{merged} merged");
        // The demo's few dropped agent tasks: closed, never merged.
        assert!(closed >= 1 && closed * 3 < merged, "{closed} closed");
        let png = client.screenshot().await?;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("desktop.png"), png).unwrap();
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = client.close().await;
    result.expect("the desktop window rendered the demo data");
}

/// A dispatch queued while no Flightdeck ran (the app was quit, the machine restarted) is
/// started when the desktop app opens — the same runtime `flightdeck serve` starts — and runs
/// to its end: the agent commits on the dispatch's branch and the dispatch succeeds.
#[tokio::test]
#[ignore = "needs a display: scripts/test.sh runs it under xvfb-run"]
async fn the_desktop_resumes_queued_dispatches() {
    use flightdeck_core::domain::dispatch::Dispatcher;
    use flightdeck_core::domain::ingest::Sources;
    use flightdeck_core::domain::work::{self, AgentConfig};
    use flightdeck_core::model::audit::AuditKey;

    let app = env!("CARGO_BIN_EXE_flightdeck-desktop");
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("web");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "# web\n").unwrap();
    git(&repo, &["add", "README.md"]);
    git(&repo, &["commit", "-q", "-m", "Initial commit"]);
    let repo = repo.canonicalize().unwrap();
    let claude = tmp.path().join("claude");
    std::fs::create_dir_all(claude.join("projects")).unwrap();
    let trace = tmp.path().join("trace");
    std::fs::write(&trace, "").unwrap();
    let home = tmp.path().join("home");
    let data = home.join("data/flightdeck");
    std::fs::create_dir_all(&data).unwrap();
    let key_path = tmp.path().join("audit-key");
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[sources]\nrepos = [\"{}\"]\nclaude_dirs = [\"{}\"]\n\n[agents.fake]\nvendor = \"anthropic\"\ncommand = [\"bash\", \"{}\", \"ok\", \"{}\", \"{}\", \"{{prompt}}\"]\n",
            repo.display(),
            claude.display(),
            fake_agent(),
            claude.display(),
            trace.display()
        ),
    )
    .unwrap();
    let db_url = format!("sqlite://{}", tmp.path().join("flightdeck.db").display());

    // Queued by an earlier process that ended before starting it.
    let queued = {
        let store = Store::open(&db_url).await.unwrap();
        let sources = Sources {
            repos: vec![repo.clone()],
            claude_dirs: vec![claude.clone()],
            ..Default::default()
        };
        let now = now();
        ingest::run(&store, &sources, None, now).await.unwrap();
        let key = AuditKey::load_or_create(&key_path).unwrap();
        let item = work::add(
            &store,
            &key,
            "Alice",
            "Add a health endpoint",
            "GET /health answers 200",
            Some(repo.to_str().unwrap()),
            None,
            now,
        )
        .await
        .unwrap();
        let agent = AgentConfig {
            vendor: Some("anthropic".into()),
            model: None,
            command: vec!["bash".into(), fake_agent()],
            concurrency: Some(1),
            env: Vec::new(),
        };
        let d = Dispatcher::new(
            store.clone(),
            [("fake".to_string(), agent)].into(),
            &data,
            std::sync::Arc::new(key),
            "Alice",
        );
        let queued = d.start(&item.id, "fake", now).await.unwrap();
        assert_eq!(queued.state, DispatchState::Queued);
        store.close().await;
        queued
    };

    let _app = Server(
        Command::new(app)
            .env("FLIGHTDECK_DATABASE_URL", &db_url)
            .env("FLIGHTDECK_CONFIG", &config)
            .env("FLIGHTDECK_AUDIT_KEY", &key_path)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env_remove("GITHUB_TOKEN")
            .env_remove("GH_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the desktop app starts"),
    );

    let store = Store::open(&db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let ended = loop {
        let d = store.dispatch(&queued.id).await.unwrap().unwrap();
        if !matches!(d.state.as_str(), "queued" | "running") {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "the desktop app left dispatch {} {}",
            d.id,
            d.state
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        ended.state,
        DispatchState::Succeeded,
        "{:?}: {}",
        ended.error,
        ended.output_tail
    );
    assert!(
        std::fs::read_to_string(&trace).unwrap().contains("start"),
        "the agent ran"
    );
    let log = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["log", "--format=%an %s", &queued.branch])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.lines().next().is_some_and(|l| l.starts_with("Claude ")),
        "the agent's commit heads {}: {log}",
        queued.branch
    );
}
