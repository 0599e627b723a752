//! A request journal shared by the fakes: when a file is named (`record_to`), every request any
//! fake of this process answers adds one line saying which fake, what was asked, and whether it
//! carried a credential: `none`, `own` (one of the credentials the fakes were made with, such as
//! the demo's keys) or `foreign` (anything else: a user's real token reaching a fake). The
//! credential itself is never written.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

struct Journal {
    file: PathBuf,
    own: Vec<String>,
}

static JOURNAL: OnceLock<Mutex<Journal>> = OnceLock::new();

/// Starts the journal at `file` (appending), with `own` the credentials the fakes were given.
/// Once per process; a second call only adds to the credentials known as own.
pub fn record_to(file: PathBuf, own: &[&str]) {
    let j = JOURNAL.get_or_init(|| {
        Mutex::new(Journal {
            file,
            own: Vec::new(),
        })
    });
    let mut j = j.lock().unwrap_or_else(|e| e.into_inner());
    j.own.extend(own.iter().map(|s| s.to_string()));
}

/// Adds a line of the caller's own (a `# …` note) to the journal, when there is one.
pub fn note(text: &str) {
    write_line(&format!("# {text}"));
}

fn write_line(line: &str) {
    let Some(j) = JOURNAL.get() else { return };
    let j = j.lock().unwrap_or_else(|e| e.into_inner());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&j.file)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// How a request's credential headers (`authorization`, `x-api-key`) compare with the own ones.
fn class(req: &Request) -> &'static str {
    let Some(j) = JOURNAL.get() else {
        return "none";
    };
    let own = j.lock().unwrap_or_else(|e| e.into_inner()).own.clone();
    let given: Vec<&str> = ["authorization", "x-api-key"]
        .iter()
        .filter_map(|h| req.headers().get(*h))
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    if given.is_empty() {
        "none"
    } else if given.iter().all(|g| {
        let g = g.strip_prefix("Bearer ").unwrap_or(g);
        own.iter().any(|o| o == g)
    }) {
        "own"
    } else {
        "foreign"
    }
}

/// The middleware each fake's router is wrapped in (`name`: which fake).
pub async fn layer(name: &'static str, req: Request, next: Next) -> Response {
    if JOURNAL.get().is_some() {
        let line = format!(
            "{name} {} {} credential={}",
            req.method(),
            req.uri().path(),
            class(&req)
        );
        write_line(&line);
    }
    next.run(req).await
}
