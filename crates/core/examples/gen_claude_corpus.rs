//! Writes a Claude Code log corpus of realistic shape for the benchmarks:
//! `gen_claude_corpus DIR MEGABYTES`. Sessions of a few hundred turns across a few dozen
//! projects; each response is logged as a streaming snapshot and a final line (same message and
//! request id), tool calls and tool results in between, and every 20th session resumed into a
//! new file that copies its first lines, as Claude Code does.

use std::io::Write;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: gen_claude_corpus DIR MEGABYTES"));
    let mb: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let target = mb * 1024 * 1024;
    let mut written = 0u64;
    let mut session = 0u64;
    let models = [
        "claude-sonnet-4-5-20250929",
        "claude-opus-4-7",
        "claude-haiku-4-5-20251001",
    ];
    while written < target {
        let project = dir.join(format!("projects/-home-dev-project-{}", session % 40));
        std::fs::create_dir_all(&project)?;
        let sid = format!("{:08x}-0000-4000-8000-{:012x}", session, session * 7919);
        let path = project.join(format!("{sid}.jsonl"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut lines = Vec::new();
        let day = 1 + session % 28;
        let month = 1 + (session / 28) % 12;
        for turn in 0..300u64 {
            let ts = format!(
                "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
                (turn / 60) % 24,
                turn % 60,
                session % 60
            );
            let model = models[(turn % 3) as usize];
            let msg = format!("msg_{session:x}_{turn}");
            let req = format!("req_{session:x}_{turn}");
            lines.push(format!(
                r#"{{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"/home/dev/project-{p}","sessionId":"{sid}","version":"2.1.14","gitBranch":"claude/task-{session}","type":"user","uuid":"u{session}-{turn}","timestamp":"{ts}","message":{{"role":"user","content":"Step {turn}: continue with the refactor of module {turn} and run the tests"}}}}"#,
                p = session % 40
            ));
            for (k, out) in [(0, 12), (1, 180 + turn % 900)] {
                let content = if k == 0 {
                    r#"[{"type":"thinking","thinking":"Let me look at the failing test and the module it covers before editing anything.","signature":"c2lnbmF0dXJl"}]"#.to_string()
                } else {
                    format!(
                        r#"[{{"type":"tool_use","id":"toolu_{session:x}_{turn}","name":"Edit","input":{{"file_path":"/home/dev/project/src/mod_{turn}.rs","old_string":"fn old()","new_string":"fn new()"}}}}]"#
                    )
                };
                lines.push(format!(
                    r#"{{"parentUuid":"u{session}-{turn}","isSidechain":false,"userType":"external","cwd":"/home/dev/project-{p}","sessionId":"{sid}","version":"2.1.14","gitBranch":"claude/task-{session}","message":{{"id":"{msg}","type":"message","role":"assistant","model":"{model}","content":{content},"stop_reason":{stop},"stop_sequence":null,"usage":{{"input_tokens":{inp},"cache_creation_input_tokens":{cw},"cache_read_input_tokens":{cr},"cache_creation":{{"ephemeral_5m_input_tokens":{cw},"ephemeral_1h_input_tokens":0}},"output_tokens":{out},"service_tier":"standard"}}}},"requestId":"{req}","type":"assistant","uuid":"a{session}-{turn}-{k}","timestamp":"{ts}"}}"#,
                    p = session % 40,
                    stop = if k == 1 { "\"tool_use\"" } else { "null" },
                    inp = 3 + turn % 50,
                    cw = 500 + turn * 13 % 4000,
                    cr = 10_000 + turn * 97 % 90_000,
                ));
            }
            lines.push(format!(
                r#"{{"parentUuid":"a{session}-{turn}-1","isSidechain":false,"userType":"external","cwd":"/home/dev/project-{p}","sessionId":"{sid}","version":"2.1.14","gitBranch":"claude/task-{session}","type":"user","uuid":"r{session}-{turn}","timestamp":"{ts}","toolUseResult":{{"type":"text","file":{{"filePath":"/home/dev/project/src/mod_{turn}.rs","numLines":120}}}},"message":{{"role":"user","content":[{{"tool_use_id":"toolu_{session:x}_{turn}","type":"tool_result","content":"The file has been updated."}}]}}}}"#,
                p = session % 40
            ));
        }
        for l in &lines {
            writeln!(f, "{l}")?;
            written += l.len() as u64 + 1;
        }
        f.flush()?;
        if session % 20 == 19 {
            // A resumed session copies the first lines of its parent into a new file.
            let resumed = project.join(format!("{sid}-resumed.jsonl"));
            let mut r = std::io::BufWriter::new(std::fs::File::create(resumed)?);
            for l in lines.iter().take(200) {
                writeln!(r, "{l}")?;
                written += l.len() as u64 + 1;
            }
        }
        session += 1;
    }
    eprintln!(
        "wrote {} MB in {session} sessions to {}",
        written / 1024 / 1024,
        dir.display()
    );
    Ok(())
}
