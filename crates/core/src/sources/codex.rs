//! Codex CLI rollout logs: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-<uuid>.jsonl` (see
//! shared/formats/FORMATS.md §2). The model comes from `turn_context`; tokens from
//! `token_count` events.
//!
//! Deltas, deliberately: when an event carries the cumulative `total_token_usage`, the delta is
//! its difference from the previous total. That is what the session consumed, so a `token_count`
//! that Codex re-emits for the same turn (a new timestamp, the same `last_token_usage`) adds
//! nothing. ccusage adds `last_token_usage` instead and counts such a turn twice. Only when the
//! total is missing (or went backwards) is `last_token_usage` used. Codex's `input_tokens`
//! includes cached input and `output_tokens` includes reasoning: non-cached input =
//! input − cached, and reasoning is recorded but not added again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{parse_ts, title_of, Batch, LastEvent, LineParser, UsageRecord};
use crate::model::{RunEventKind, Tokens};

pub const AGENT: &str = "codex";

/// Logs without any model metadata were written by Codex versions whose default was gpt-5.
const FALLBACK_MODEL: &str = "gpt-5";

/// `$CODEX_HOME` or `~/.codex`.
pub fn default_home() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

/// Rollouts under `sessions/` and `archived_sessions/`.
pub fn files(home: &Path) -> Vec<PathBuf> {
    let mut out = super::jsonl_files(&home.join("sessions"));
    out.extend(super::jsonl_files(&home.join("archived_sessions")));
    out
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Raw {
    input: i64,
    cached: i64,
    output: i64,
    reasoning: i64,
}

impl Raw {
    /// The counts of a usage object; a negative one is a bad line, named.
    fn from(v: &Value) -> Result<Raw, String> {
        let g = |k: &str| -> Result<i64, String> {
            match v.get(k).and_then(Value::as_i64).unwrap_or(0) {
                n if n < 0 => Err(format!("token_count with negative {k} ({n})")),
                n if n > super::MAX_TOKENS => Err(format!("token_count with {n} {k}")),
                n => Ok(n),
            }
        };
        Ok(Raw {
            input: g("input_tokens")?,
            cached: g("cached_input_tokens")?,
            output: g("output_tokens")?,
            reasoning: g("reasoning_output_tokens")?,
        })
    }
    /// What was used since `o`, when every count grew (a total that went down was reset).
    fn minus(self, o: Raw) -> Option<Raw> {
        let d = Raw {
            input: self.input.checked_sub(o.input)?,
            cached: self.cached.checked_sub(o.cached)?,
            output: self.output.checked_sub(o.output)?,
            reasoning: self.reasoning.checked_sub(o.reasoning)?,
        };
        (d.input >= 0 && d.cached >= 0 && d.output >= 0 && d.reasoning >= 0).then_some(d)
    }
}

/// What must survive between reads of one rollout file.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Parser {
    session: String,
    model: Option<String>,
    prev_total: Option<Raw>,
    saw_meta: bool,
}

impl Parser {
    /// A parser for `file`, resuming from the state saved with its cursor (if any).
    pub fn new(file: &Path, state: Option<&str>) -> Self {
        state
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_else(|| Parser {
                // Until session_meta names it, the session is the file's name.
                session: file
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                ..Default::default()
            })
    }
}

impl LineParser for Parser {
    fn state(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    fn parse(&mut self, line_no: i64, line: &str, out: &mut Batch) -> Result<(), String> {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let ts_raw = v.get("timestamp").and_then(Value::as_str).unwrap_or("");
        let ts = parse_ts(ts_raw);
        let p = v.get("payload").unwrap_or(&Value::Null);
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        if kind == "session_meta" && !self.saw_meta {
            // Only the first session_meta is canonical.
            self.saw_meta = true;
            if let Some(id) = p.get("id").and_then(Value::as_str) {
                self.session = id.to_string();
            }
        }
        let collect = out.collect_events;
        let s = out.session(&self.session);
        if let Some(ts) = ts {
            s.see_time(ts);
        }
        let at = ts.unwrap_or(s.ended_at);
        match kind {
            "session_meta" => {
                if let Some(cwd) = p.get("cwd").and_then(Value::as_str) {
                    s.cwd.get_or_insert_with(|| cwd.to_string());
                }
                if let Some(b) = p.pointer("/git/branch").and_then(Value::as_str) {
                    s.branch = Some(b.to_string());
                }
            }
            "turn_context" => {
                if let Some(m) = p.get("model").and_then(Value::as_str) {
                    self.model = Some(m.to_string());
                }
                if let Some(cwd) = p.get("cwd").and_then(Value::as_str) {
                    s.cwd.get_or_insert_with(|| cwd.to_string());
                }
            }
            "response_item"
                if matches!(
                    p.get("type").and_then(Value::as_str),
                    Some("function_call" | "custom_tool_call" | "local_shell_call")
                ) =>
            {
                s.tool_calls += 1;
                s.last_event = LastEvent::Working;
                let args = p
                    .get("arguments")
                    .or_else(|| p.get("input"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if collect {
                    s.event(
                        collect,
                        at,
                        RunEventKind::Tool,
                        line_no,
                        &tool_text(p, args),
                    );
                }
                s.files.extend(patched_files(args));
            }
            "event_msg" => match p.get("type").and_then(Value::as_str).unwrap_or("") {
                "user_message" => {
                    let m = p.get("message").and_then(Value::as_str).unwrap_or("");
                    s.turns += 1;
                    s.last_event = LastEvent::Working;
                    if s.title.is_none() && !m.trim().is_empty() && !m.starts_with('<') {
                        s.title = Some(title_of(m));
                    }
                    s.event(collect, at, RunEventKind::Prompt, line_no, m);
                }
                "agent_message" => {
                    let m = p.get("message").and_then(Value::as_str).unwrap_or("");
                    s.last_event = if m.trim_end().ends_with('?') {
                        LastEvent::Waiting
                    } else {
                        LastEvent::Working
                    };
                }
                "exec_approval_request" | "apply_patch_approval_request" | "request_user_input" => {
                    s.last_event = LastEvent::Waiting;
                }
                kind @ ("error" | "stream_error" | "turn_aborted") => {
                    s.errors += 1;
                    s.last_event = LastEvent::Error;
                    let m = p
                        .get("message")
                        .or_else(|| p.get("reason"))
                        .and_then(Value::as_str)
                        .unwrap_or(kind);
                    s.event(collect, at, RunEventKind::Error, line_no, m);
                }
                "token_count" => {
                    let Some(info) = p.get("info").filter(|i| !i.is_null()) else {
                        return Ok(()); // rate limits only
                    };
                    let total = info.get("total_token_usage").map(Raw::from).transpose()?;
                    let last = info.get("last_token_usage").map(Raw::from).transpose()?;
                    let delta = match (total, self.prev_total) {
                        (Some(t), Some(prev)) => t.minus(prev).or(last),
                        (Some(t), None) => Some(t),
                        (None, _) => last,
                    };
                    if total.is_some() {
                        self.prev_total = total;
                    }
                    let Some(d) = delta.filter(|d| *d != Raw::default()) else {
                        return Ok(());
                    };
                    let model = info
                        .get("model")
                        .or_else(|| info.get("model_name"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| self.model.clone())
                        .unwrap_or_else(|| FALLBACK_MODEL.to_string());
                    let cached = d.cached.min(d.input);
                    out.records.push(UsageRecord {
                        // Copies of this rollout (forks, archived_sessions/) share these keys.
                        key: format!(
                            "{}:{ts_raw}:{model}:{}:{}:{}:{}",
                            self.session, d.input, d.cached, d.output, d.reasoning
                        ),
                        message_id: String::new(),
                        sidechain: false,
                        session_id: self.session.clone(),
                        line: line_no,
                        at: ts.unwrap_or(0),
                        model,
                        tokens: Tokens {
                            input: d.input - cached,
                            output: d.output,
                            cache_write: 0,
                            cache_read: cached,
                            reasoning: d.reasoning,
                        },
                        cache_write_1h: 0,
                        fast: false,
                        logged_cost_usd: None,
                    });
                }
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }
}

/// A tool call for its event: the tool's name and what it ran or patched.
fn tool_text(payload: &Value, args: &str) -> String {
    let name = payload
        .get("name")
        .or_else(|| payload.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("tool");
    let files = patched_files(args);
    if !files.is_empty() {
        return format!("{name}: {}", files.join(", "));
    }
    // Shell calls carry `command` as an argv array, in `arguments` (JSON text) or `action`.
    let parsed: Option<Value> = serde_json::from_str(args).ok();
    let command = parsed
        .as_ref()
        .and_then(|a| a.get("command"))
        .or_else(|| payload.pointer("/action/command"));
    let detail = match command {
        Some(Value::Array(argv)) => {
            let argv: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
            // `bash -lc "script"`: the script is what was run.
            match argv.as_slice() {
                [_, flag, script] if flag.starts_with('-') => script.to_string(),
                _ => argv.join(" "),
            }
        }
        Some(Value::String(c)) => c.clone(),
        _ => args.to_string(),
    };
    if detail.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {detail}")
    }
}

/// Files named by an `apply_patch` body (`*** Update File: path` and friends).
fn patched_files(args: &str) -> Vec<String> {
    let text = args.replace("\\n", "\n");
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            ["*** Update File: ", "*** Add File: ", "*** Delete File: "]
                .iter()
                .find_map(|p| l.strip_prefix(p))
                .map(|p| p.trim().trim_end_matches('"').to_string())
        })
        .collect()
}
