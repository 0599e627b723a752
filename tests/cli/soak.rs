//! A short soak in CI (the hour-long one is `BENCH_ONLY=soak bash scripts/bench.sh`): `serve`
//! with live ingest (commits and agent-log lines arriving) while UIs poll every view and hold
//! the event stream open. Every stream hears every event, numbered without a gap; no request
//! fails; the server's sockets come back to where they were once the UIs close.

use super::*;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const VIEWS: [&str; 8] = [
    "/api/inbox",
    "/api/changes",
    "/api/agents",
    "/api/repos",
    "/api/work",
    "/api/spend",
    "/api/velocity",
    "/api/charts/spend-by-day.svg",
];

/// The ids of the events a stream carries, read on a thread of its own until `stop`.
fn numbered_events(client: &Client, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u64>> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", client.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
        client.port, client.cookie
    )
    .unwrap();
    std::thread::spawn(move || {
        let mut ids = Vec::new();
        let mut reader = std::io::BufReader::new(s);
        let mut line = String::new();
        while !stop.load(Ordering::Relaxed) {
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if let Some(id) = line.trim().strip_prefix("id: ") {
                        ids.push(id.parse().unwrap());
                    }
                    line.clear();
                }
                // The read timeout: look at `stop` again (a partial line stays in `line`).
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("event stream: {e}"),
            }
        }
        ids
    })
}

/// (open files, of which sockets) of process `pid`.
fn open_files(pid: u32) -> (usize, usize) {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return (0, 0);
    };
    let links: Vec<_> = dir
        .flatten()
        .map(|e| std::fs::read_link(e.path()).unwrap_or_default())
        .collect();
    let sockets = links
        .iter()
        .filter(|l| l.to_string_lossy().starts_with("socket:"))
        .count();
    (links.len(), sockets)
}

#[test]
fn live_ingest_under_polling_uis_loses_no_event_and_no_file() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("work/app");
    let repo = new_repo(&path);
    let logs = home.path().join("claude");
    let project = logs.join("projects").join("-work-app");
    std::fs::create_dir_all(&project).unwrap();
    let mut cmd = flightdeck(home.path());
    cmd.arg("serve")
        .args(["--port", "0", "--rescan-secs", "3600", "--repo"])
        .arg(&path)
        .arg("--claude-dir")
        .arg(&logs)
        .arg("--codex-home")
        .arg(home.path().join("no-codex"));
    let (server, client) = spawn_listening(cmd);
    let pid = server.0.id();
    // Settled: the first pass done, one request answered.
    assert_eq!(client.get("/api/inbox").map(|r| r.0), Some(200));
    std::thread::sleep(Duration::from_millis(500));
    let (files_before, sockets_before) = open_files(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<_> = (0..4)
        .map(|_| numbered_events(&client, stop.clone()))
        .collect();
    let (requests, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let pollers: Vec<_> = (0..4)
        .map(|k| {
            let (client, stop) = (
                Client {
                    port: client.port,
                    cookie: client.cookie.clone(),
                },
                stop.clone(),
            );
            let (requests, failures) = (requests.clone(), failures.clone());
            std::thread::spawn(move || {
                let mut i = k;
                while !stop.load(Ordering::Relaxed) {
                    let ok = client
                        .get(VIEWS[i % VIEWS.len()])
                        .is_some_and(|(status, _)| status == 200);
                    requests.fetch_add(1, Ordering::Relaxed);
                    failures.fetch_add(u64::from(!ok), Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Work arriving: a commit and an agent-log line at a time, each seen before the next.
    let log = project.join("session.jsonl");
    for i in 0..12 {
        if i % 2 == 0 {
            commit_on(&repo, "main", &format!("f{i}.txt"), &format!("change {i}"));
        }
        let line = serde_json::json!({
            "type": "assistant", "sessionId": "soak", "cwd": path.display().to_string(),
            "timestamp": format!("2026-11-20T10:{i:02}:00.000Z"),
            "requestId": format!("req_{i}"),
            "message": {"id": format!("msg_{i}"), "model": "claude-sonnet-4-5",
                "role": "assistant", "content": [],
                "usage": {"input_tokens": 100, "output_tokens": 20}}
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        writeln!(f, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(700));
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let heard: Vec<Vec<u64>> = streams.into_iter().map(|s| s.join().unwrap()).collect();
    for p in pollers {
        p.join().unwrap();
    }

    let n = requests.load(Ordering::Relaxed);
    assert!(n > 20, "the UIs polled: {n} requests");
    assert_eq!(failures.load(Ordering::Relaxed), 0, "of {n} requests");
    // Every stream heard the same events, numbered one after another.
    assert!(heard[0].len() >= 3, "passes were announced: {heard:?}");
    for ids in &heard {
        assert_eq!(ids, &heard[0], "each stream hears every event: {heard:?}");
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "no gap: {ids:?}");
    }
    // The ingest read every line: 12 requests of 100 input tokens.
    let (status, body) = client.get("/api/agents").unwrap();
    assert_eq!(status, 200);
    let agents: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(agents["runs"][0]["tokens"]["input"], 1200, "{body}");
    // The UIs gone (an event makes the server write to their streams and find them closed),
    // it holds no more sockets than before they came, and no more files than its SQLite pool
    // may open (4 connections, a database and a log file each).
    commit_on(&repo, "main", "last.txt", "last");
    std::thread::sleep(Duration::from_secs(2));
    let (files_after, sockets_after) = open_files(pid);
    assert!(
        sockets_after <= sockets_before,
        "sockets: {sockets_before} before, {sockets_after} after"
    );
    assert!(
        files_after <= files_before + 8,
        "open files: {files_before} before, {files_after} after"
    );
}
