//! Claude Code session logs: `<config dir>/projects/<encoded cwd>/<session>.jsonl`, plus
//! `<session>/subagents/*.jsonl` sidechains (see shared/formats/FORMATS.md §1).
//!
//! Claude Code writes one line per content block of a response, each with the same `message.id`
//! and usage, and copies lines into resumed sessions; usage is deduplicated on
//! (`message.id`, `requestId`), keeping the copy with the largest total, and a sidechain copy of
//! a message already seen in the main log is dropped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{jsonl_files, parse_ts, title_of, ParsedSession};
use crate::model::Tokens;

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

struct Usage {
    request_id: Option<String>,
    sidechain: bool,
    model: String,
    tokens: Tokens,
}

/// Reads every session under the given config dirs.
pub fn read_dirs(dirs: &[PathBuf]) -> Vec<ParsedSession> {
    let mut sessions: BTreeMap<String, ParsedSession> = BTreeMap::new();
    let mut usage: HashMap<String, HashMap<String, Vec<Usage>>> = HashMap::new();
    let mut anonymous: HashMap<String, Vec<Usage>> = HashMap::new();
    let mut tool_ids: HashMap<String, HashSet<String>> = HashMap::new();
    for dir in dirs {
        let projects = if dir.ends_with("projects") {
            dir.clone()
        } else {
            dir.join("projects")
        };
        for file in jsonl_files(&projects) {
            read_file(
                &file,
                &mut sessions,
                &mut usage,
                &mut anonymous,
                &mut tool_ids,
            );
        }
    }
    for (sid, s) in sessions.iter_mut() {
        s.tool_calls = tool_ids.get(sid).map(|t| t.len() as i64).unwrap_or(0);
        let mut kept: Vec<&Usage> = Vec::new();
        if let Some(by_msg) = usage.get(sid) {
            for entries in by_msg.values() {
                kept.extend(dedupe(entries));
            }
        }
        if let Some(entries) = anonymous.get(sid) {
            kept.extend(entries.iter());
        }
        for u in kept {
            s.tokens_by_model
                .entry(u.model.clone())
                .or_default()
                .add(&u.tokens);
        }
    }
    sessions.into_values().collect()
}

/// One message id's copies → the ones that count: one per request id (largest total), with
/// sidechain copies dropped when a main-log copy exists.
fn dedupe(entries: &[Usage]) -> Vec<&Usage> {
    let has_main = entries.iter().any(|u| !u.sidechain);
    let mut best: BTreeMap<Option<&str>, &Usage> = BTreeMap::new();
    for u in entries {
        if u.sidechain && has_main {
            continue;
        }
        let key = u.request_id.as_deref();
        match best.get(&key) {
            Some(prev) if prev.tokens.total() >= u.tokens.total() => {}
            _ => {
                best.insert(key, u);
            }
        }
    }
    best.into_values().collect()
}

fn read_file(
    file: &Path,
    sessions: &mut BTreeMap<String, ParsedSession>,
    usage: &mut HashMap<String, HashMap<String, Vec<Usage>>>,
    anonymous: &mut HashMap<String, Vec<Usage>>,
    tool_ids: &mut HashMap<String, HashSet<String>>,
) {
    let path_str = file.display().to_string();
    // Subagent logs belong to the session named by their grandparent directory.
    let file_session = if file
        .parent()
        .is_some_and(|p| p.file_name().is_some_and(|n| n == "subagents"))
    {
        file.parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
    } else {
        file.file_stem().map(|n| n.to_string_lossy().into_owned())
    }
    .unwrap_or_default();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            let s = session(sessions, &file_session, &path_str);
            s.skip(0, format!("cannot read: {e}"));
            return;
        }
    };
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                session(sessions, &file_session, &path_str).skip(line_no, e);
                continue;
            }
        };
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "user" && kind != "assistant" {
            continue;
        }
        let sid = file_session.clone();
        let s = session(sessions, &sid, &path_str);
        let Some(ts) = v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_ts)
        else {
            s.skip(line_no, "no valid timestamp");
            continue;
        };
        s.see_time(ts);
        if s.cwd.is_empty() {
            if let Some(cwd) = v.get("cwd").and_then(Value::as_str) {
                s.cwd = cwd.to_string();
            }
        }
        if let Some(b) = v.get("gitBranch").and_then(Value::as_str) {
            if !b.is_empty() {
                s.branch = Some(b.to_string());
            }
        }
        let sidechain = v
            .get("isSidechain")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let msg = v.get("message");
        if kind == "user" {
            let is_meta = v.get("isMeta").and_then(Value::as_bool).unwrap_or(false);
            if let Some(prompt) = msg.and_then(user_prompt) {
                if !is_meta && !sidechain && !prompt.starts_with('<') {
                    s.turns += 1;
                    if s.title.is_empty() {
                        s.title = title_of(&prompt);
                    }
                }
            }
            continue;
        }
        if v.get("isApiErrorMessage").and_then(Value::as_bool) == Some(true) {
            s.errors += 1;
        }
        let Some(msg) = msg else { continue };
        if let Some(blocks) = msg.get("content").and_then(Value::as_array) {
            for b in blocks {
                if b.get("type").and_then(Value::as_str) == Some("tool_use") {
                    if let Some(id) = b.get("id").and_then(Value::as_str) {
                        tool_ids.entry(sid.clone()).or_default().insert(id.into());
                    }
                }
            }
        }
        let Some(u) = msg.get("usage") else { continue };
        let get = |k: &str| u.get(k).and_then(Value::as_i64).unwrap_or(0);
        let mut model = msg
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if model == "<synthetic>" {
            model.clear();
        }
        let entry = Usage {
            request_id: v
                .get("requestId")
                .and_then(Value::as_str)
                .map(str::to_string),
            sidechain,
            model,
            tokens: Tokens {
                input: get("input_tokens"),
                output: get("output_tokens"),
                cache_write: get("cache_creation_input_tokens"),
                cache_read: get("cache_read_input_tokens"),
                reasoning: 0,
            },
        };
        match msg.get("id").and_then(Value::as_str) {
            Some(id) => usage
                .entry(sid)
                .or_default()
                .entry(id.to_string())
                .or_default()
                .push(entry),
            None => anonymous.entry(sid).or_default().push(entry),
        }
    }
}

fn session<'a>(
    sessions: &'a mut BTreeMap<String, ParsedSession>,
    sid: &str,
    path: &str,
) -> &'a mut ParsedSession {
    sessions
        .entry(sid.to_string())
        .or_insert_with(|| ParsedSession {
            agent: "claude-code".into(),
            session_id: sid.to_string(),
            source_path: path.to_string(),
            ..Default::default()
        })
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
