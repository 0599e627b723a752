//! Claude Code session logs: `<config dir>/projects/<encoded cwd>/<session>.jsonl`, plus
//! `<session>/subagents/*.jsonl` sidechains (see shared/formats/FORMATS.md §1).
//!
//! Each line is parsed on its own (the parser keeps no state between lines). Claude Code writes
//! one line per content block of a response, each with the same `message.id` and usage, and
//! copies lines into resumed sessions; every usage line therefore becomes a record keyed on
//! (`message.id`, `requestId`), and the store keeps one per key — the largest — and drops a
//! sidechain copy of a message the main log has (see `store::agent_logs`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{parse_ts, title_of, Batch, LastEvent, LineParser, UsageRecord};
use crate::model::Tokens;

pub const AGENT: &str = "claude-code";

/// Claude config dirs to read: `$CLAUDE_CONFIG_DIR` (comma list) or `~/.config/claude` and
/// `~/.claude`, keeping those that hold `projects/`.
pub fn default_dirs() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let candidates: Vec<PathBuf> = match std::env::var("CLAUDE_CONFIG_DIR") {
        Ok(v) if !v.trim().is_empty() => v.split(',').map(|s| PathBuf::from(s.trim())).collect(),
        _ => {
            let xdg = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".config")));
            xdg.map(|x| x.join("claude"))
                .into_iter()
                .chain(home.map(|h| h.join(".claude")))
                .collect()
        }
    };
    candidates
        .into_iter()
        .filter(|d| d.join("projects").is_dir() || d.ends_with("projects"))
        .collect()
}

/// Every log file under the config dirs, sorted.
pub fn files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let projects = if dir.ends_with("projects") {
            dir.clone()
        } else {
            dir.join("projects")
        };
        out.extend(super::jsonl_files(&projects));
    }
    out.sort();
    out.dedup();
    out
}

/// The session a file belongs to: its name, or for `<session>/subagents/x.jsonl` the
/// session directory's name.
pub fn session_of(file: &Path) -> String {
    let in_subagents = file
        .parent()
        .is_some_and(|p| p.file_name().is_some_and(|n| n == "subagents"));
    let name = if in_subagents {
        file.parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
    } else {
        file.file_stem()
    };
    name.map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub struct Parser {
    session: String,
    file: String,
}

impl Parser {
    pub fn new(file: &Path) -> Self {
        Self {
            session: session_of(file),
            file: file.display().to_string(),
        }
    }
}

impl LineParser for Parser {
    fn state(&self) -> String {
        "{}".into()
    }

    fn parse(&mut self, line_no: i64, line: &str, out: &mut Batch) -> Result<(), String> {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "user" && kind != "assistant" {
            return Ok(()); // summary, file-history-snapshot, system, …
        }
        let ts = v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_ts)
            .ok_or("no valid timestamp")?;
        let sidechain = v
            .get("isSidechain")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let s = out.session(&self.session);
        s.see_time(ts);
        if let Some(cwd) = v.get("cwd").and_then(Value::as_str) {
            s.cwd.get_or_insert_with(|| cwd.to_string());
        }
        if let Some(b) = v
            .get("gitBranch")
            .and_then(Value::as_str)
            .filter(|b| !b.is_empty())
        {
            s.branch = Some(b.to_string());
        }
        let msg = v.get("message");
        if kind == "user" {
            let is_meta = v.get("isMeta").and_then(Value::as_bool).unwrap_or(false);
            if let Some(prompt) = msg.and_then(user_prompt) {
                if !is_meta && !sidechain && !prompt.starts_with('<') {
                    s.turns += 1;
                    if s.title.is_none() {
                        s.title = Some(title_of(&prompt));
                    }
                }
            }
            s.last_event = LastEvent::Working;
            return Ok(());
        }
        let is_error = v.get("isApiErrorMessage").and_then(Value::as_bool) == Some(true);
        if is_error {
            s.errors += 1;
        }
        let Some(msg) = msg else { return Ok(()) };
        let mut last_text = None;
        if let Some(blocks) = msg.get("content").and_then(Value::as_array) {
            for b in blocks {
                match b.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        s.tool_calls += 1;
                        let input = b.get("input");
                        for key in ["file_path", "notebook_path"] {
                            if let Some(p) = input.and_then(|i| i.get(key)).and_then(Value::as_str)
                            {
                                s.files.insert(p.to_string());
                            }
                        }
                    }
                    Some("text") => last_text = b.get("text").and_then(Value::as_str),
                    _ => {}
                }
            }
        }
        s.last_event = if is_error {
            LastEvent::Error
        } else if msg.get("stop_reason").and_then(Value::as_str) == Some("end_turn")
            && last_text.is_some_and(|t| t.trim_end().ends_with('?'))
        {
            LastEvent::Waiting
        } else {
            LastEvent::Working
        };

        let Some(u) = msg.get("usage").filter(|u| u.is_object()) else {
            return Ok(());
        };
        let get = |v: Option<&Value>, k: &str| {
            v.and_then(|v| v.get(k))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let cache_write = get(Some(u), "cache_creation_input_tokens");
        let cache_write_1h = get(u.get("cache_creation"), "ephemeral_1h_input_tokens");
        let fast = u.get("speed").and_then(Value::as_str) == Some("fast");
        let mut model = msg
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if model == "<synthetic>" {
            model.clear(); // a local placeholder: tokens count, no model is billed
        }
        if fast && !model.is_empty() {
            model.push_str("-fast");
        }
        let message_id = msg
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let request_id = v.get("requestId").and_then(Value::as_str);
        let key = match (message_id.as_str(), request_id) {
            ("", _) => format!("{}:{line_no}", self.file),
            (m, Some(r)) => format!("{m}:{r}"),
            (m, None) => m.to_string(),
        };
        out.records.push(UsageRecord {
            key,
            message_id,
            sidechain,
            session_id: self.session.clone(),
            line: line_no,
            at: ts,
            model,
            tokens: Tokens {
                input: get(Some(u), "input_tokens"),
                output: get(Some(u), "output_tokens"),
                cache_write,
                cache_read: get(Some(u), "cache_read_input_tokens"),
                reasoning: 0,
            },
            cache_write_1h,
            fast,
            logged_cost_usd: v.get("costUSD").and_then(Value::as_f64),
        });
        Ok(())
    }
}

/// The text a person typed, if this user message is a prompt (not a tool result).
fn user_prompt(msg: &Value) -> Option<String> {
    match msg.get("content")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => blocks.iter().find_map(|b| {
            (b.get("type").and_then(Value::as_str) == Some("text"))
                .then(|| b.get("text").and_then(Value::as_str).map(str::to_string))
                .flatten()
        }),
        _ => None,
    }
}
