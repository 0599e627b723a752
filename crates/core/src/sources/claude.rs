//! Claude Code session logs: `<config dir>/projects/<encoded cwd>/<session>.jsonl`, plus
//! `<session>/subagents/*.jsonl` sidechains (see shared/formats/FORMATS.md §1).
//!
//! Each line is parsed on its own (the parser keeps no state between lines). Claude Code writes
//! one line per content block of a response, each with the same `message.id` and usage, and
//! copies lines into resumed sessions; every usage line therefore becomes a record keyed on
//! (`message.id`, `requestId`), and the store keeps one per key — the largest — and drops a
//! sidechain copy of a message the main log has (see `store::agent_logs`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{parse_ts, title_of, Batch, LastEvent, LineParser, UsageRecord};
use crate::model::{RunEventKind, Tokens};

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

// The fields read from a line, deserialised straight into borrowed strings: building a full
// `serde_json::Value` for every line was most of the ingest's parsing time. Unknown fields are
// skipped; `content` stays raw until a line needs it.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "isSidechain")]
    is_sidechain: Option<bool>,
    #[serde(rename = "isMeta")]
    is_meta: Option<bool>,
    #[serde(rename = "isApiErrorMessage")]
    is_api_error: Option<bool>,
    #[serde(borrow)]
    cwd: Option<Cow<'a, str>>,
    #[serde(rename = "gitBranch", borrow)]
    git_branch: Option<Cow<'a, str>>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(rename = "costUSD")]
    cost_usd: Option<f64>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    usage: Option<Usage<'a>>,
}

#[derive(Deserialize)]
struct Usage<'a> {
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_creation_input_tokens: Option<i64>,
    cache_read_input_tokens: Option<i64>,
    cache_creation: Option<CacheCreation>,
    #[serde(borrow)]
    speed: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CacheCreation {
    ephemeral_1h_input_tokens: Option<i64>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    input: Option<BlockInput<'a>>,
}

#[derive(Deserialize)]
struct BlockInput<'a> {
    #[serde(borrow)]
    file_path: Option<Cow<'a, str>>,
    #[serde(borrow)]
    notebook_path: Option<Cow<'a, str>>,
    // Kept raw (a borrowed slice, decoded only when a run's events are read), so ingest does
    // not pay for unescaping shell commands.
    #[serde(borrow)]
    command: Option<&'a RawValue>,
    #[serde(borrow)]
    pattern: Option<&'a RawValue>,
    #[serde(borrow)]
    url: Option<&'a RawValue>,
    #[serde(borrow)]
    description: Option<&'a RawValue>,
}

impl BlockInput<'_> {
    /// What a tool call acted on, for its event: a path, a command, a pattern, a URL.
    fn target(&self) -> String {
        if let Some(p) = self.file_path.as_deref().or(self.notebook_path.as_deref()) {
            return p.to_string();
        }
        [self.command, self.pattern, self.url, self.description]
            .into_iter()
            .flatten()
            .find_map(|raw| serde_json::from_str::<String>(raw.get()).ok())
            .unwrap_or_default()
    }
}

impl LineParser for Parser {
    fn state(&self) -> String {
        "{}".into()
    }

    fn parse(&mut self, line_no: i64, line: &str, out: &mut Batch) -> Result<(), String> {
        let v: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let kind = v.kind.as_deref().unwrap_or("");
        if kind != "user" && kind != "assistant" {
            return Ok(()); // summary, file-history-snapshot, system, …
        }
        let ts = v
            .timestamp
            .as_deref()
            .and_then(parse_ts)
            .ok_or("no valid timestamp")?;
        let sidechain = v.is_sidechain.unwrap_or(false);
        let collect = out.collect_events;
        let s = out.session(&self.session);
        s.see_time(ts);
        if let Some(cwd) = &v.cwd {
            s.cwd.get_or_insert_with(|| cwd.to_string());
        }
        if let Some(b) = v.git_branch.as_deref().filter(|b| !b.is_empty()) {
            if s.branch.as_deref() != Some(b) {
                s.branch = Some(b.to_string());
            }
        }
        let Some(msg) = v.message else {
            return Ok(());
        };
        if kind == "user" {
            if let Some(prompt) = msg.content.and_then(user_prompt) {
                if !v.is_meta.unwrap_or(false) && !sidechain && !prompt.starts_with('<') {
                    s.turns += 1;
                    if s.title.is_none() {
                        s.title = Some(title_of(&prompt));
                    }
                    s.event(collect, ts, RunEventKind::Prompt, line_no, &prompt);
                }
            }
            s.last_event = LastEvent::Working;
            return Ok(());
        }
        let is_error = v.is_api_error == Some(true);
        if is_error {
            s.errors += 1;
        }
        let mut last_text = None;
        if let Some(raw) = msg.content {
            if let Ok(blocks) = serde_json::from_str::<Vec<Block>>(raw.get()) {
                for b in blocks {
                    match b.kind.as_deref() {
                        Some("tool_use") => {
                            s.tool_calls += 1;
                            if collect {
                                let target = b.input.as_ref().map(BlockInput::target);
                                let name = b.name.as_deref().unwrap_or("tool");
                                let text = match target.filter(|t| !t.is_empty()) {
                                    Some(t) => format!("{name}: {t}"),
                                    None => name.to_string(),
                                };
                                s.event(collect, ts, RunEventKind::Tool, line_no, &text);
                            }
                            if let Some(input) = b.input {
                                for p in
                                    [input.file_path, input.notebook_path].into_iter().flatten()
                                {
                                    s.files.insert(p.into_owned());
                                }
                            }
                        }
                        Some("text") => last_text = b.text,
                        _ => {}
                    }
                }
            }
        }
        if is_error {
            let text = last_text.as_deref().unwrap_or("API error");
            s.event(collect, ts, RunEventKind::Error, line_no, text);
        }
        s.last_event = if is_error {
            LastEvent::Error
        } else if msg.stop_reason.as_deref() == Some("end_turn")
            && last_text.is_some_and(|t| t.trim_end().ends_with('?'))
        {
            LastEvent::Waiting
        } else {
            LastEvent::Working
        };

        let Some(u) = msg.usage else {
            return Ok(());
        };
        let fast = u.speed.as_deref() == Some("fast");
        let mut model = msg.model.as_deref().unwrap_or("").to_string();
        if model == "<synthetic>" {
            model.clear(); // a local placeholder: tokens count, no model is billed
        }
        if fast && !model.is_empty() {
            model.push_str("-fast");
        }
        let message_id = msg.id.as_deref().unwrap_or("").to_string();
        let key = match (message_id.as_str(), v.request_id.as_deref()) {
            ("", _) => format!("{}:{line_no}", self.file),
            (m, Some(r)) => format!("{m}:{r}"),
            (m, None) => m.to_string(),
        };
        let record = UsageRecord {
            key,
            message_id,
            sidechain,
            session_id: self.session.clone(),
            line: line_no,
            at: ts,
            model,
            tokens: Tokens {
                input: u.input_tokens.unwrap_or(0),
                output: u.output_tokens.unwrap_or(0),
                cache_write: u.cache_creation_input_tokens.unwrap_or(0),
                cache_read: u.cache_read_input_tokens.unwrap_or(0),
                reasoning: 0,
            },
            cache_write_1h: u
                .cache_creation
                .and_then(|c| c.ephemeral_1h_input_tokens)
                .unwrap_or(0),
            fast,
            logged_cost_usd: v.cost_usd,
        };
        super::check_usage(&record)?;
        out.records.push(record);
        Ok(())
    }
}

/// The text a person typed, if this user message's content is a prompt (not a tool result).
/// Tool results can be whole files: their blocks are skipped without being built.
fn user_prompt(content: &RawValue) -> Option<String> {
    let raw = content.get();
    if raw.starts_with('"') {
        return serde_json::from_str::<String>(raw).ok();
    }
    let blocks: Vec<Block> = serde_json::from_str(raw).ok()?;
    blocks
        .into_iter()
        .find(|b| b.kind.as_deref() == Some("text"))
        .and_then(|b| b.text.map(Cow::into_owned))
}
