//! Flightdeck's own agent-log format, for any harness without a reader of its own. Documented
//! in `docs/agent-log-format.md`: JSON lines under `<dir>/<agent name>/*.jsonl`, one event per
//! line, appended as the agent works.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{parse_ts, title_of, Batch, LastEvent, LineParser, UsageRecord};
use crate::model::{RunEventKind, Tokens};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    v: u32,
    session: String,
    ts: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    tokens: Option<LineTokens>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineTokens {
    #[serde(default)]
    input: i64,
    #[serde(default)]
    output: i64,
    #[serde(default)]
    cache_write: i64,
    #[serde(default)]
    cache_read: i64,
    #[serde(default)]
    reasoning: i64,
}

/// Every `<dir>/<agent>/*.jsonl`, with its agent name.
pub fn files(dirs: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(agents) = std::fs::read_dir(dir) else {
            continue;
        };
        for a in agents.flatten().filter(|a| a.path().is_dir()) {
            let agent = a.file_name().to_string_lossy().into_owned();
            for f in super::jsonl_files(&a.path()) {
                out.push((agent.clone(), f));
            }
        }
    }
    out.sort();
    out
}

pub struct Parser {
    file: String,
}

impl Parser {
    pub fn new(file: &Path) -> Self {
        Self {
            file: file.display().to_string(),
        }
    }
}

impl LineParser for Parser {
    fn state(&self) -> String {
        "{}".into()
    }

    fn parse(&mut self, line_no: i64, line: &str, out: &mut Batch) -> Result<(), String> {
        let l: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if l.v != 1 {
            return Err(format!("unsupported format version {}", l.v));
        }
        let ts = parse_ts(&l.ts).ok_or_else(|| format!("`ts` is not RFC 3339: {}", l.ts))?;
        let collect = out.collect_events;
        let s = out.session(&l.session);
        s.see_time(ts);
        if let Some(cwd) = &l.cwd {
            s.cwd.get_or_insert_with(|| cwd.clone());
        }
        if let Some(b) = &l.branch {
            s.branch = Some(b.clone());
        }
        if let Some(f) = &l.file {
            s.files.insert(f.clone());
        }
        s.last_event = LastEvent::Working;
        match l.kind.as_str() {
            "start" | "end" => {}
            "prompt" => {
                s.turns += 1;
                if s.title.is_none() {
                    s.title = l.text.as_deref().map(title_of);
                }
                let text = l.text.as_deref().unwrap_or("");
                s.event(collect, ts, RunEventKind::Prompt, line_no, text);
            }
            "tool" => {
                s.tool_calls += 1;
                if collect {
                    let name = l.tool.as_deref().unwrap_or("tool");
                    let text = match l.file.as_deref().or(l.text.as_deref()) {
                        Some(t) => format!("{name}: {t}"),
                        None => name.to_string(),
                    };
                    s.event(collect, ts, RunEventKind::Tool, line_no, &text);
                }
            }
            "error" => {
                s.errors += 1;
                s.last_event = LastEvent::Error;
                let text = l.text.as_deref().unwrap_or("error");
                s.event(collect, ts, RunEventKind::Error, line_no, text);
            }
            "waiting" => s.last_event = LastEvent::Waiting,
            "usage" => {
                let t = l.tokens.unwrap_or_default();
                let record = UsageRecord {
                    key: match &l.id {
                        Some(id) => format!("{}:{id}", l.session),
                        None => format!("{}:{line_no}", self.file),
                    },
                    session_id: l.session.clone(),
                    line: line_no,
                    at: ts,
                    model: l.model.clone().unwrap_or_default(),
                    tokens: Tokens {
                        input: t.input,
                        output: t.output,
                        cache_write: t.cache_write,
                        cache_read: t.cache_read,
                        reasoning: t.reasoning,
                    },
                    ..Default::default()
                };
                super::check_usage(&record)?;
                out.records.push(record);
            }
            other => return Err(format!("unknown event type `{other}`")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_and_refuses_bad_lines() {
        let mut p = Parser::new(Path::new("/logs/aider/a.jsonl"));
        let mut b = Batch::default();
        let lines = [
            r#"{"v":1,"session":"s1","ts":"2026-11-25T10:00:00Z","type":"start","cwd":"/w","branch":"agent/x"}"#,
            r#"{"v":1,"session":"s1","ts":"2026-11-25T10:00:01Z","type":"prompt","text":"Fix the build"}"#,
            r#"{"v":1,"session":"s1","ts":"2026-11-25T10:00:05Z","type":"usage","id":"r1","model":"gpt-5","tokens":{"input":100,"output":20}}"#,
            r#"{"v":1,"session":"s1","ts":"2026-11-25T10:00:06Z","type":"tool","file":"src/lib.rs"}"#,
            r#"{"v":1,"session":"s1","ts":"2026-11-25T10:00:09Z","type":"waiting","text":"Proceed?"}"#,
        ];
        for (i, l) in lines.iter().enumerate() {
            p.parse(i as i64 + 1, l, &mut b).unwrap();
        }
        let s = &b.sessions["s1"];
        assert_eq!((s.turns, s.tool_calls), (1, 1));
        assert_eq!(s.title.as_deref(), Some("Fix the build"));
        assert_eq!(s.last_event, LastEvent::Waiting);
        assert_eq!(b.records.len(), 1);
        assert_eq!(b.records[0].key, "s1:r1");
        assert_eq!(b.records[0].tokens.output, 20);
        let bad = p.parse(
            6,
            r#"{"v":1,"session":"s1","ts":"yesterday","type":"end"}"#,
            &mut b,
        );
        assert!(bad.unwrap_err().contains("RFC 3339"));
        let unknown = p.parse(
            7,
            r#"{"v":1,"session":"s1","ts":"2026-11-25T10:00:00Z","type":"party"}"#,
            &mut b,
        );
        assert!(unknown.unwrap_err().contains("unknown event type"));
        let typo = p.parse(
            8,
            r#"{"v":1,"sesion":"s1","ts":"2026-11-25T10:00:00Z","type":"end"}"#,
            &mut b,
        );
        assert!(typo.is_err());
    }
}
