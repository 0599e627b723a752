//! A run's events — every prompt, tool call and error — read from its own log files when the
//! run is opened. Ingest counts these but does not store them: they would multiply the store's
//! size for a view opened one run at a time, and the log on disk is the record.
//!
//! The same parsers as ingest read the lines (with `Batch::collect_events` on), so the events
//! shown agree with the counts on the run.

use std::path::Path;

use super::{claude, codex, gemini, generic, tail::LineReader, Batch, LineParser};
use crate::model::RunEvent;

/// Events kept for one run; a longer run shows its newest ones and says how many are omitted.
pub const MAX_EVENTS: usize = 2000;

/// What reading one run's logs found.
#[derive(Debug, Default)]
pub struct RunLog {
    /// Oldest first (by time, then file and line).
    pub events: Vec<RunEvent>,
    /// Events left out beyond `MAX_EVENTS` (the oldest).
    pub omitted: usize,
    /// Files that could not be read, and why; the other files' events are still returned.
    pub problems: Vec<String>,
}

/// Reads the events of `session_id` from each of its log `files`. Blocking file IO: call it
/// from a blocking thread.
pub fn read(agent: &str, session_id: &str, files: &[String]) -> RunLog {
    let mut log = RunLog::default();
    for file in files {
        match read_file(agent, session_id, Path::new(file)) {
            Ok(events) => log.events.extend(events),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => log.problems.push(format!(
                "{file}: no longer on disk; counts are from when it was read"
            )),
            Err(e) => log.problems.push(format!("{file}: {e}")),
        }
    }
    log.events
        .sort_by(|a, b| (a.at, &a.file, a.line).cmp(&(b.at, &b.file, b.line)));
    if log.events.len() > MAX_EVENTS {
        log.omitted = log.events.len() - MAX_EVENTS;
        log.events.drain(..log.omitted);
    }
    log
}

fn read_file(agent: &str, session_id: &str, path: &Path) -> std::io::Result<Vec<RunEvent>> {
    let mut batch = if agent == gemini::AGENT {
        let text = gemini::read_session(path)?
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        gemini::parse(path, &text, &|_| None, true)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
    } else {
        let mut parser: Box<dyn LineParser> = match agent {
            claude::AGENT => Box::new(claude::Parser::new(path)),
            codex::AGENT => Box::new(codex::Parser::new(path, None)),
            _ => Box::new(generic::Parser::new(path)),
        };
        let mut batch = Batch {
            collect_events: true,
            ..Batch::default()
        };
        let mut reader = LineReader::open(path, 0, 0)?;
        while let Some((line_no, line)) = reader.next_line()? {
            if !line.trim().is_empty() {
                // A corrupt line was counted when it was ingested; here it just has no event.
                let _ = parser.parse(line_no, &line, &mut batch);
            }
        }
        batch
    };
    let file = path.display().to_string();
    let mut events = batch
        .sessions
        .remove(session_id)
        .map(|s| s.events)
        .unwrap_or_default();
    for e in &mut events {
        e.file.clone_from(&file);
    }
    Ok(events)
}
