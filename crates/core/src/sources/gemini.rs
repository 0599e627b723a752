//! Gemini CLI session files: `~/.gemini/tmp/<project hash>/chats/session-*.json` (or the dirs
//! in `$GEMINI_DATA_DIR`, a comma list). Verified against gemini-cli-core's
//! `ChatRecordingService`: one JSON document per session, `{sessionId, projectHash, startTime,
//! lastUpdated, messages[]}`, rewritten whole on every update; `gemini` messages carry `model`
//! and `tokens {input, output, cached, thoughts?, tool?, total}` from the API's usage metadata.
//!
//! Accounting: `input` includes `cached` (non-cached = input − cached); thinking tokens are
//! billed as output, so output = output + thoughts (and reasoning = thoughts, as with Codex);
//! tool-use prompt tokens are input. The file has no working directory: `projectHash` is the
//! SHA-256 of the project root, so a run is linked by hashing the watched repos' paths.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{parse_ts, title_of, Batch, LastEvent, UsageRecord};
use crate::model::{RunEventKind, Tokens};

pub const AGENT: &str = "gemini-cli";

/// `$GEMINI_DATA_DIR` (comma list) or `~/.gemini/tmp`.
pub fn default_dirs() -> Vec<PathBuf> {
    match std::env::var("GEMINI_DATA_DIR") {
        Ok(v) if !v.trim().is_empty() => v.split(',').map(|s| PathBuf::from(s.trim())).collect(),
        _ => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".gemini/tmp"))
            .into_iter()
            .filter(|d| d.is_dir())
            .collect(),
    }
}

/// Session files: `<dir>/<hash>/chats/*.json`.
pub fn files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(projects) = std::fs::read_dir(dir) else {
            continue;
        };
        for p in projects.flatten() {
            let Ok(chats) = std::fs::read_dir(p.path().join("chats")) else {
                continue;
            };
            out.extend(
                chats
                    .flatten()
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|x| x == "json")),
            );
        }
    }
    out.sort();
    out
}

/// The largest session file read. A session is one JSON document, read whole, so it is held
/// to the cap any other log's single line has (`tail::MAX_LINE_BYTES`); a bigger one is
/// reported by size, not loaded.
pub const MAX_FILE_BYTES: u64 = super::tail::MAX_LINE_BYTES as u64;

/// A session file's text; `Ok(Err(why))` when it is over [`MAX_FILE_BYTES`] (not read).
pub fn read_session(path: &Path) -> std::io::Result<Result<String, String>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let too_big = |bytes: u64| {
        format!(
            "a session file of {bytes} bytes, over the {} MiB one may have: not read",
            MAX_FILE_BYTES >> 20
        )
    };
    if len > MAX_FILE_BYTES {
        return Ok(Err(too_big(len)));
    }
    // Read no more than the cap even if the file grows while it is read.
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Ok(Err(too_big(text.len() as u64)));
    }
    Ok(Ok(text))
}

/// The hash Gemini CLI files a project under.
pub fn project_hash(root: &str) -> String {
    Sha256::digest(root.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses a whole session file. `cwd_of_hash` turns the project hash into a directory, when
/// a watched repo hashes to it.
pub fn parse(
    file: &Path,
    text: &str,
    cwd_of_hash: &dyn Fn(&str) -> Option<String>,
    collect_events: bool,
) -> Result<Batch, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let session = v
        .get("sessionId")
        .and_then(Value::as_str)
        .ok_or("no sessionId")?
        .to_string();
    let mut out = Batch {
        collect_events,
        ..Batch::default()
    };
    let hash = v.get("projectHash").and_then(Value::as_str).unwrap_or("");
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let s = out.session(&session);
    s.cwd = cwd_of_hash(hash);
    if let Some(ts) = v
        .get("startTime")
        .and_then(Value::as_str)
        .and_then(parse_ts)
    {
        s.see_time(ts);
    }
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let line = i as i64 + 1;
        let ts = m
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_ts);
        if let Some(ts) = ts {
            s.see_time(ts);
        }
        let at = ts.unwrap_or(s.ended_at);
        let text = match m.get("content") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        match m.get("type").and_then(Value::as_str) {
            Some("user") => {
                s.turns += 1;
                s.last_event = LastEvent::Working;
                if s.title.is_none() && !text.trim().is_empty() {
                    s.title = Some(title_of(&text));
                }
                s.event(collect_events, at, RunEventKind::Prompt, line, &text);
            }
            Some("gemini") => {
                let calls = m.get("toolCalls").and_then(Value::as_array);
                s.tool_calls += calls.map(Vec::len).unwrap_or(0) as i64;
                for c in calls.into_iter().flatten() {
                    let mut target = None;
                    for key in ["file_path", "absolute_path", "path"] {
                        if let Some(p) = c.pointer(&format!("/args/{key}")).and_then(Value::as_str)
                        {
                            s.files.insert(p.to_string());
                            target.get_or_insert(p);
                        }
                    }
                    let target = target.or_else(|| {
                        ["command", "pattern", "url", "query"]
                            .into_iter()
                            .find_map(|k| c.pointer(&format!("/args/{k}")).and_then(Value::as_str))
                    });
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("tool");
                    let call = match target {
                        Some(t) => format!("{name}: {t}"),
                        None => name.to_string(),
                    };
                    s.event(collect_events, at, RunEventKind::Tool, line, &call);
                    if c.get("status").and_then(Value::as_str) == Some("error") {
                        s.errors += 1;
                        let why = c
                            .pointer("/resultDisplay")
                            .and_then(Value::as_str)
                            .unwrap_or("tool call failed");
                        s.event(
                            collect_events,
                            at,
                            RunEventKind::Error,
                            line,
                            &format!("{name}: {why}"),
                        );
                    }
                }
                s.last_event = if text.trim_end().ends_with('?') {
                    LastEvent::Waiting
                } else {
                    LastEvent::Working
                };
                let Some(t) = m.get("tokens").filter(|t| t.is_object()) else {
                    continue;
                };
                let g = |k: &str| t.get(k).and_then(Value::as_i64).unwrap_or(0);
                // A negative count, or counts whose sum overflows, make this message a skipped
                // one (named); the rest of the file still counts.
                if let Some(k) = ["input", "cached", "output", "thoughts", "tool"]
                    .into_iter()
                    .find(|k| g(k) < 0)
                {
                    skipped.push((line, format!("tokens.{k} is negative ({})", g(k))));
                    continue;
                }
                let cached = g("cached").min(g("input"));
                let (Some(input), Some(output)) = (
                    (g("input") - cached).checked_add(g("tool")),
                    g("output").checked_add(g("thoughts")),
                ) else {
                    skipped.push((line, "token counts too large to add up".into()));
                    continue;
                };
                let id = m.get("id").and_then(Value::as_str).map(str::to_string);
                let record = UsageRecord {
                    key: format!(
                        "{session}:{}",
                        id.unwrap_or_else(|| format!("{}:{line}", file.display()))
                    ),
                    message_id: String::new(),
                    sidechain: false,
                    session_id: session.clone(),
                    line,
                    at: ts.unwrap_or(0),
                    model: m
                        .get("model")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    tokens: Tokens {
                        input,
                        output,
                        cache_write: 0,
                        cache_read: cached,
                        reasoning: g("thoughts"),
                    },
                    cache_write_1h: 0,
                    fast: false,
                    logged_cost_usd: None,
                };
                match super::check_usage(&record) {
                    Ok(()) => records.push(record),
                    Err(reason) => skipped.push((line, reason)),
                }
            }
            _ => {}
        }
    }
    out.records = records;
    out.skipped.extend(skipped);
    Ok(out)
}
