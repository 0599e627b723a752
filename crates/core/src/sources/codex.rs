//! Codex CLI rollout logs: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-<uuid>.jsonl` (see
//! shared/formats/FORMATS.md §2). The model comes from `turn_context`; token deltas from
//! `token_count` events (`last_token_usage`, or the difference of `total_token_usage` in legacy
//! logs). Codex's `input_tokens` includes cached input and `output_tokens` includes reasoning, so
//! non-cached input = input − cached and reasoning is recorded but not added again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{jsonl_files, parse_ts, title_of, ParsedSession};
use crate::model::Tokens;

/// Logs without any model metadata were written by Codex versions whose default was gpt-5.
const FALLBACK_MODEL: &str = "gpt-5";

/// `$CODEX_HOME` or `~/.codex`.
pub fn default_home() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

pub fn read_home(home: &Path) -> Vec<ParsedSession> {
    jsonl_files(&home.join("sessions"))
        .iter()
        .map(|f| read_file(f))
        .collect()
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Hash)]
struct Raw {
    input: i64,
    cached: i64,
    output: i64,
    reasoning: i64,
}

fn raw(v: &Value) -> Raw {
    let g = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    Raw {
        input: g("input_tokens"),
        cached: g("cached_input_tokens"),
        output: g("output_tokens"),
        reasoning: g("reasoning_output_tokens"),
    }
}

pub fn read_file(file: &Path) -> ParsedSession {
    let mut s = ParsedSession {
        agent: "codex".into(),
        session_id: file
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        source_path: file.display().to_string(),
        ..Default::default()
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            s.skip(0, format!("cannot read: {e}"));
            return s;
        }
    };
    let mut model: Option<String> = None;
    let mut prev_total: Option<Raw> = None;
    let mut seen_events: HashSet<(i64, Raw)> = HashSet::new();
    let mut saw_meta = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                s.skip(line_no, e);
                continue;
            }
        };
        let ts = v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_ts);
        if let Some(ts) = ts {
            s.see_time(ts);
        }
        let p = v.get("payload").cloned().unwrap_or(Value::Null);
        match v.get("type").and_then(Value::as_str).unwrap_or("") {
            "session_meta" if !saw_meta => {
                // Only the first session_meta is canonical.
                saw_meta = true;
                if let Some(id) = p.get("id").and_then(Value::as_str) {
                    s.session_id = id.to_string();
                }
                if let Some(cwd) = p.get("cwd").and_then(Value::as_str) {
                    s.cwd = cwd.to_string();
                }
                if let Some(b) = p.pointer("/git/branch").and_then(Value::as_str) {
                    s.branch = Some(b.to_string());
                }
            }
            "turn_context" => {
                if let Some(m) = p.get("model").and_then(Value::as_str) {
                    model = Some(m.to_string());
                }
                if s.cwd.is_empty() {
                    if let Some(cwd) = p.get("cwd").and_then(Value::as_str) {
                        s.cwd = cwd.to_string();
                    }
                }
            }
            "response_item" if p.get("type").and_then(Value::as_str) == Some("function_call") => {
                s.tool_calls += 1;
            }
            "event_msg" => match p.get("type").and_then(Value::as_str).unwrap_or("") {
                "user_message" => {
                    let m = p.get("message").and_then(Value::as_str).unwrap_or("");
                    s.turns += 1;
                    if s.title.is_empty() && !m.trim().is_empty() {
                        s.title = title_of(m);
                    }
                }
                "error" | "turn_aborted" => s.errors += 1,
                "token_count" => {
                    let Some(info) = p.get("info").filter(|i| !i.is_null()) else {
                        continue; // rate limits only
                    };
                    let total = info.get("total_token_usage").map(raw);
                    let delta = match (info.get("last_token_usage").map(raw), total, prev_total) {
                        (Some(last), _, _) => last,
                        (None, Some(t), Some(prev)) => Raw {
                            input: t.input - prev.input,
                            cached: t.cached - prev.cached,
                            output: t.output - prev.output,
                            reasoning: t.reasoning - prev.reasoning,
                        },
                        (None, Some(t), None) => t,
                        (None, None, _) => Raw::default(),
                    };
                    if let Some(t) = total {
                        prev_total = Some(t);
                    }
                    if delta == Raw::default() {
                        continue;
                    }
                    // The same event copied (same time, same usage) counts once.
                    if !seen_events.insert((ts.unwrap_or(0), delta)) {
                        continue;
                    }
                    let cached = delta.cached.min(delta.input);
                    let m = info
                        .get("model")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| model.clone())
                        .unwrap_or_else(|| FALLBACK_MODEL.to_string());
                    s.tokens_by_model.entry(m).or_default().add(&Tokens {
                        input: delta.input - cached,
                        output: delta.output,
                        cache_write: 0,
                        cache_read: cached,
                        reasoning: delta.reasoning,
                    });
                }
                _ => {}
            },
            _ => {}
        }
    }
    s
}
