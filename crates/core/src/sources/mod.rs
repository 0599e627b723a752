//! Sources: each reads one kind of data from where it lives (git repos, agent session logs) and
//! normalises it into the model. These never write the store themselves; `domain::ingest` does,
//! so the same normalised records flow through one path whether they come from a user's disk or
//! the demo workspace. `billing` (vendor billing APIs) fetches and records its own rows.

pub mod billing;
pub mod claude;
pub mod codex;
pub mod diffstat;
pub mod events;
pub mod experiment_file;
pub mod experiment_parquet;
pub mod gemini;
pub mod generic;
pub mod git;
pub mod growthbook;
mod retry;
pub mod tail;
pub mod warehouse;
pub mod xdiff;

// What the parsers yield is defined below the store, which keeps it (`model::logs`).
pub use crate::model::logs::{Batch, LastEvent, SessionFacts, UsageRecord, EVENT_CHARS};

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

/// The `[sources]` section of the config file: what to read (defaults resolved in `config`).
#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Git work trees to watch.
    #[serde(default)]
    pub repos: Vec<std::path::PathBuf>,
    /// Claude Code config dirs (each holding `projects/`); default as Claude Code itself.
    pub claude_dirs: Option<Vec<std::path::PathBuf>>,
    /// Codex home (holding `sessions/`); default `$CODEX_HOME` or `~/.codex`.
    pub codex_home: Option<std::path::PathBuf>,
    /// Gemini CLI data dirs; default `$GEMINI_DATA_DIR` or `~/.gemini/tmp`.
    pub gemini_dirs: Option<Vec<std::path::PathBuf>>,
    /// Dirs of Flightdeck's own agent-log format; default `<data dir>/agent-logs`.
    pub generic_dirs: Option<Vec<std::path::PathBuf>>,
}

/// A parser for one agent's log lines. State that must survive between reads of the same file
/// (Codex's current model and running totals) is serialised into the file's cursor.
pub trait LineParser {
    /// Parses one complete line; `Err` is the reason it was skipped.
    fn parse(&mut self, line_no: i64, line: &str, out: &mut Batch) -> Result<(), String>;
    fn state(&self) -> String;
}

/// More tokens than any one request (or a whole session) has used: a count above it is a broken
/// line, and sums of many such would overflow.
pub(crate) const MAX_TOKENS: i64 = 1_000_000_000_000;

/// A usage record's counts as the log gave them: a negative or implausibly large count (or a
/// logged cost that is not a finite, non-negative number) makes the line a bad one, named,
/// instead of a total gone wrong.
pub(crate) fn check_usage(r: &UsageRecord) -> Result<(), String> {
    let t = &r.tokens;
    for (name, n) in [
        ("input", t.input),
        ("output", t.output),
        ("cache write", t.cache_write),
        ("cache read", t.cache_read),
        ("reasoning", t.reasoning),
        ("1-hour cache write", r.cache_write_1h),
    ] {
        if n < 0 {
            return Err(format!("usage with negative {name} tokens ({n})"));
        }
        if n > MAX_TOKENS {
            return Err(format!(
                "usage with {n} {name} tokens, more than any request uses"
            ));
        }
    }
    match r.logged_cost_usd {
        Some(c) if !(c.is_finite() && c >= 0.0) => Err(format!("usage with a cost of {c} USD")),
        _ => Ok(()),
    }
}

/// Parses an RFC 3339 timestamp into Unix seconds.
pub(crate) fn parse_ts(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp())
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
