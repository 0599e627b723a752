//! Sources: each reads one kind of data from where it lives (git repos, agent session logs) and
//! normalises it into the model. Sources never write the store themselves; `ingest` does, so the
//! same normalised records flow through one path whether they come from a user's disk or the
//! demo workspace.

pub mod claude;
pub mod codex;
pub mod git;

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

use std::collections::BTreeMap;

use crate::model::Tokens;

/// One agent session as read from its log, before pricing and repo linking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedSession {
    pub agent: String,
    pub session_id: String,
    pub cwd: String,
    pub branch: Option<String>,
    pub title: String,
    pub started_at: i64,
    pub ended_at: i64,
    pub turns: i64,
    pub tool_calls: i64,
    pub errors: i64,
    pub tokens_by_model: BTreeMap<String, Tokens>,
    pub source_path: String,
    /// Lines that could not be read; each also lands in `problems` as `file:line: reason`.
    pub skipped_lines: i64,
    pub problems: Vec<String>,
}

impl ParsedSession {
    pub fn tokens(&self) -> Tokens {
        let mut t = Tokens::default();
        for v in self.tokens_by_model.values() {
            t.add(v);
        }
        t
    }

    /// The model that wrote the most output.
    pub fn main_model(&self) -> String {
        self.tokens_by_model
            .iter()
            .max_by_key(|(_, t)| (t.output, t.total()))
            .map(|(m, _)| m.clone())
            .unwrap_or_default()
    }

    fn see_time(&mut self, ts: i64) {
        if self.started_at == 0 || ts < self.started_at {
            self.started_at = ts;
        }
        if ts > self.ended_at {
            self.ended_at = ts;
        }
    }

    fn skip(&mut self, line_no: usize, reason: impl std::fmt::Display) {
        self.skipped_lines += 1;
        // Keep the first few reasons; the count says how many there were.
        if self.problems.len() < 20 {
            self.problems
                .push(format!("{}:{line_no}: {reason}", self.source_path));
        }
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
