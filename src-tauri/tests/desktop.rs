//! The real desktop app under a display: tauri-driver drives WebKitWebDriver, which starts the
//! built `flightdeck-desktop` on a demo database; the test reads the rendered DOM back and saves
//! a screenshot to `tests/artifacts/desktop.png`.
//!
//! Needs a display (Xvfb), `WebKitWebDriver` (Debian's webkit2gtk-driver) and `tauri-driver` on
//! PATH, so it is ignored by default; `scripts/test.sh` runs it under `xvfb-run` with
//! `--include-ignored`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use flightdeck_core::store::Store;
use flightdeck_core::{demo, ingest};

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
            let mut merged = 0;
            for row in &rows {
                merged += usize::from(row.text().await?.contains("merged"));
            }
            Ok::<_, fantoccini::error::CmdError>((rows.len() - merged, merged))
        };
        assert_eq!(count_rows().await?, (6, 0), "{changes}");
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
        let (open, merged) = counted;
        assert_eq!(open, 6, "{changes}");
        assert!(merged > 10, "{merged} merged");
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
