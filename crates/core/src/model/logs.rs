//! What parsing agent session logs yields, as the store keeps it: billed usage records, what a
//! batch of lines says about each session, and a log file's read cursor. The sources produce
//! these (`sources::claude`, `codex`, …) and the store writes them; defined here, below both,
//! so the store never depends on a parser.

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

/// How far a log file was read, and what identifies it (see `sources::tail`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub inode: String,
    /// Modification time (ns) when last read; 0 when unknown.
    pub mtime_ns: i64,
    pub head_len: i64,
    pub head_hash: String,
    pub offset: i64,
    pub line_no: i64,
    pub skipped: i64,
    pub state: Option<String>,
}
