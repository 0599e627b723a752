//! Sources: each reads one kind of data from where it lives (git repos, agent session logs) and
//! normalises it into the model. Sources never write the store themselves; `ingest` does, so the
//! same normalised records flow through one path whether they come from a user's disk or the
//! demo workspace.

pub mod claude;
pub mod codex;
pub mod diffstat;
pub mod events;
pub mod gemini;
pub mod generic;
pub mod git;
pub mod tail;

/// Which agent a branch name belongs to, by prefix (`claude/…`, `codex/…`, `agent/…`).
pub fn agent_for_branch(name: &str) -> Option<&'static str> {
    let prefix = name.split('/').next()?;
    if !name.contains('/') {
        return None;
    }
    match prefix {
        "claude" => Some("claude-code"),
        "codex" => Some("codex"),
        "agent" => Some("agent"),
        _ => None,
    }
}

/// Which agent a `Co-Authored-By` trailer value or an author identity names, if any.
pub fn agent_for_identity(identity: &str) -> Option<&'static str> {
    let l = identity.to_ascii_lowercase();
    if l.contains("noreply@anthropic.com") || l.starts_with("claude") {
        Some("claude-code")
    } else if l.contains("codex") || l.contains("noreply@openai.com") {
        Some("codex")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_agent_branches_and_identities() {
        assert_eq!(agent_for_branch("claude/rate-limit"), Some("claude-code"));
        assert_eq!(agent_for_branch("codex/fix"), Some("codex"));
        assert_eq!(agent_for_branch("feature/x"), None);
        assert_eq!(agent_for_branch("claude"), None);
        assert_eq!(
            agent_for_identity("Claude <noreply@anthropic.com>"),
            Some("claude-code")
        );
        assert_eq!(agent_for_identity("Alice <alice@acme.dev>"), None);
    }
}

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{RunEvent, RunEventKind, Tokens};

/// Tokens billed for one model response (Claude Code) or one turn (Codex), with the key that
/// makes copies of it (streaming snapshots, resumed or forked sessions) count once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageRecord {
    /// Unique per billed record across every file of this agent.
    pub key: String,
    /// Claude Code's `message.id`; empty when the line has none (never deduplicated).
    pub message_id: String,
    /// A Claude Code sidechain (subagent / `/btw`) replay.
    pub sidechain: bool,
    pub session_id: String,
    pub line: i64,
    pub at: i64,
    pub model: String,
    /// `cache_write` is all cache writes; `cache_write_1h` the part written for one hour.
    pub tokens: Tokens,
    pub cache_write_1h: i64,
    /// Claude Code `speed: "fast"` (priced with the model's fast multiplier).
    pub fast: bool,
    /// `costUSD` as old Claude Code versions logged it.
    pub logged_cost_usd: Option<f64>,
}

impl UsageRecord {
    /// The total ccusage compares copies by.
    pub fn total(&self) -> i64 {
        self.tokens.total()
    }
}

/// What the newest event of a log says about its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LastEvent {
    #[default]
    Working,
    /// The agent ended its turn with a question, or asked for permission: it waits for its user.
    Waiting,
    Error,
}

impl LastEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            LastEvent::Working => "working",
            LastEvent::Waiting => "waiting",
            LastEvent::Error => "error",
        }
    }
}

/// What one batch of lines says about one session; added to what earlier batches said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFacts {
    pub cwd: Option<String>,
    pub branch: Option<String>,
    pub title: Option<String>,
    pub started_at: i64,
    pub ended_at: i64,
    pub turns: i64,
    pub tool_calls: i64,
    pub errors: i64,
    pub last_event: LastEvent,
    pub files: BTreeSet<String>,
    /// Prompts, tool calls and errors, in log order; filled only when the batch asks for them
    /// (`Batch::collect_events`, for a run's detail), never during ingest.
    pub events: Vec<RunEvent>,
}

impl SessionFacts {
    pub fn see_time(&mut self, ts: i64) {
        if self.started_at == 0 || ts < self.started_at {
            self.started_at = ts;
        }
        if ts > self.ended_at {
            self.ended_at = ts;
        }
    }
}

/// The result of parsing a batch of lines of one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub records: Vec<UsageRecord>,
    pub sessions: BTreeMap<String, SessionFacts>,
    /// (line number, reason) of each line that could not be read.
    pub skipped: Vec<(i64, String)>,
    /// Whether parsers record each session's events (see `SessionFacts::events`).
    pub collect_events: bool,
}

impl Batch {
    pub fn session(&mut self, id: &str) -> &mut SessionFacts {
        self.sessions.entry(id.to_string()).or_default()
    }
}

/// A parser for one agent's log lines. State that must survive between reads of the same file
/// (Codex's current model and running totals) is serialised into the file's cursor.
pub trait LineParser {
    /// Parses one complete line; `Err` is the reason it was skipped.
    fn parse(&mut self, line_no: i64, line: &str, out: &mut Batch) -> Result<(), String>;
    fn state(&self) -> String;
}

/// Parses an RFC 3339 timestamp into Unix seconds.
pub(crate) fn parse_ts(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp())
}

impl SessionFacts {
    /// Records an event when the batch collects them; `text` is shortened to `EVENT_CHARS`.
    /// The reader that asked for events fills in the file.
    pub fn event(&mut self, collect: bool, at: i64, kind: RunEventKind, line: i64, text: &str) {
        if collect {
            self.events.push(RunEvent {
                at,
                kind,
                text: shorten(text.trim(), EVENT_CHARS),
                file: String::new(),
                line,
            });
        }
    }
}

/// The longest event text kept; a prompt can be a pasted file.
pub const EVENT_CHARS: usize = 2000;

fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// A prompt shortened for a title: first line, at most 100 characters.
pub(crate) fn title_of(prompt: &str) -> String {
    let first = prompt.trim().lines().next().unwrap_or("").trim();
    if first.chars().count() > 100 {
        let cut: String = first.chars().take(99).collect();
        format!("{cut}…")
    } else {
        first.to_string()
    }
}

/// Every `*.jsonl` file under `dir`, recursively, sorted for a stable order.
pub(crate) fn jsonl_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
