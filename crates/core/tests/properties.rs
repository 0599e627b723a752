//! Properties of every parser, over inputs made by mutating real ones: the agent-log line
//! parsers (Claude Code, Codex, generic), Gemini's whole-file parser, the config and policy
//! TOML, GitHub's pull-request payloads. Each must never panic, and every input it refuses must
//! come with a reason (for files, naming the file); what it accepts must be sane (no negative
//! token counts, no cost that is not a finite non-negative number).
//!
//! Bounded for CI: `PROPTEST_CASES` (default 256 per property) sets how many inputs each
//! property gets; a failure prints the smallest input proptest could shrink it to.

use std::path::{Path, PathBuf};

use flightdeck_core::sources::{claude, codex, gemini, generic, Batch, LineParser};
use proptest::prelude::*;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every line of every `.jsonl` under `dir`.
fn lines_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.extend(
                    text.lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(String::from),
                );
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no seed lines under {}", dir.display());
    out
}

/// A JSON value of any shape, small: what a field could hold instead of what it should.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(-1i64), Just(0), Just(i64::MAX), Just(i64::MIN)].prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("1e400"),
            Just("-5"),
            Just("2026-13-40T99:99:99Z"),
            Just("")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer into `v` (the root included).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out)
            }
        }
        _ => {}
    }
}

/// How a real input is damaged.
#[derive(Debug, Clone)]
enum Damage {
    None,
    /// Cut after this share (0..1000 ‰) of its characters.
    Cut(usize),
    /// The value at the n-th pointer (mod their number) replaced.
    Replace(usize, Value),
    /// The value at the n-th pointer removed.
    Remove(usize),
    /// Replaced whole by text.
    Text(String),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        1 => Just(Damage::None),
        2 => (0usize..1000).prop_map(Damage::Cut),
        6 => (any::<usize>(), any_json()).prop_map(|(n, v)| Damage::Replace(n, v)),
        3 => any::<usize>().prop_map(Damage::Remove),
        1 => ".{0,40}".prop_map(Damage::Text),
    ]
}

fn apply(seed: &str, d: &Damage) -> String {
    match d {
        Damage::None => seed.to_string(),
        Damage::Cut(per_mille) => {
            let n = seed.chars().count() * per_mille / 1000;
            seed.chars().take(n).collect()
        }
        Damage::Text(t) => t.clone(),
        Damage::Replace(n, _) | Damage::Remove(n) => {
            let Ok(mut v) = serde_json::from_str::<Value>(seed) else {
                return seed.to_string();
            };
            let mut all = Vec::new();
            pointers(&v, String::new(), &mut all);
            let at = &all[n % all.len()];
            match d {
                Damage::Replace(_, new) => {
                    if let Some(slot) = v.pointer_mut(at) {
                        *slot = new.clone();
                    }
                }
                _ => {
                    if let Some((parent, key)) = at.rsplit_once('/') {
                        match v.pointer_mut(parent) {
                            Some(Value::Object(m)) => {
                                m.remove(&key.replace("~1", "/").replace("~0", "~"));
                            }
                            Some(Value::Array(a)) => {
                                if let Ok(i) = key.parse::<usize>() {
                                    if i < a.len() {
                                        a.remove(i);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            v.to_string()
        }
    }
}

/// What a parser accepted must be usable as is.
fn assert_sane(batch: &Batch, input: &str) {
    for r in &batch.records {
        let t = &r.tokens;
        for (name, n) in [
            ("input", t.input),
            ("output", t.output),
            ("cache_write", t.cache_write),
            ("cache_read", t.cache_read),
            ("reasoning", t.reasoning),
            ("cache_write_1h", r.cache_write_1h),
        ] {
            assert!(n >= 0, "{name} tokens {n} accepted from {input}");
        }
        assert!(
            t.input
                .checked_add(t.output)
                .and_then(|s| s.checked_add(t.cache_write))
                .and_then(|s| s.checked_add(t.cache_read))
                .and_then(|s| s.checked_add(t.reasoning))
                .is_some_and(|s| s <= 5_000_000_000_000),
            "token counts that overflow a total accepted from {input}"
        );
        if let Some(c) = r.logged_cost_usd {
            assert!(c.is_finite() && c >= 0.0, "cost {c} accepted from {input}");
        }
    }
    for (line, reason) in &batch.skipped {
        assert!(
            !reason.trim().is_empty(),
            "line {line} skipped with no reason: {input}"
        );
    }
}

/// Feeds damaged seed lines, in order, to one parser; every refusal has a reason.
fn feed(parser: &mut dyn LineParser, lines: &[String], input_for_errors: &str) -> Batch {
    let mut batch = Batch::default();
    for (i, line) in lines.iter().enumerate() {
        if let Err(reason) = parser.parse(i as i64 + 1, line, &mut batch) {
            assert!(!reason.trim().is_empty(), "refused with no reason: {line}");
            batch.skipped.push((i as i64 + 1, reason));
        }
    }
    assert_sane(&batch, input_for_errors);
    batch
}

fn damaged_lines(seeds: Vec<String>) -> impl Strategy<Value = Vec<String>> {
    let n = seeds.len();
    prop::collection::vec((0..n, damage()), 1..12).prop_map(move |picks| {
        picks
            .iter()
            .map(|(i, d)| apply(&seeds[*i], d))
            .collect::<Vec<_>>()
    })
}

/// The cases each property gets (`PROPTEST_CASES`, else 256), with no regression files written
/// into the source tree: a failure prints its input, shrunk.
fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn claude_code_lines(lines in damaged_lines(lines_under(&fixtures().join("claude-code")))) {
        let mut p = claude::Parser::new(Path::new("/p/-w/5b2f0c1e.jsonl"));
        feed(&mut p, &lines, &lines.join("\n"));
    }

    #[test]
    fn codex_lines(lines in damaged_lines(lines_under(&fixtures().join("codex")))) {
        let mut p = codex::Parser::new(Path::new("/s/rollout-x.jsonl"), None);
        feed(&mut p, &lines, &lines.join("\n"));
        // The state it carries to the next read is itself readable.
        let state = p.state();
        let mut again = codex::Parser::new(Path::new("/s/rollout-x.jsonl"), Some(&state));
        feed(&mut again, &lines, &lines.join("\n"));
    }

    #[test]
    fn generic_lines(lines in damaged_lines(generic_seeds())) {
        let mut p = generic::Parser::new(Path::new("/g/my-agent/run.jsonl"));
        feed(&mut p, &lines, &lines.join("\n"));
    }

    #[test]
    fn gemini_files(d in damage()) {
        let seed = gemini_seed();
        let text = apply(&seed, &d);
        let file = Path::new("/t/h/chats/session-x.json");
        match gemini::parse(file, &text, &|_| None, true) {
            Ok(batch) => assert_sane(&batch, &text),
            Err(reason) => prop_assert!(!reason.trim().is_empty()),
        }
    }

    #[test]
    fn config_toml(text in toml_like(CONFIG_SEED)) {
        let path = Path::new("/etc/fd/config.toml");
        if let Err(e) = flightdeck_core::config::RawConfig::parse(&text, path) {
            prop_assert!(e.to_string().contains("/etc/fd/config.toml"), "{e}");
        }
    }

    #[test]
    fn policy_toml(text in toml_like(POLICY_SEED)) {
        let path = Path::new("/etc/fd/policy.toml");
        if let Err(e) = flightdeck_core::domain::policy::PolicyFile::parse(&text, path) {
            prop_assert!(e.to_string().contains("/etc/fd/policy.toml"), "{e}");
        }
    }

    #[test]
    fn github_pull_requests(d in damage()) {
        let seed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fakehub/shapes/pull-42.json"),
        )
        .unwrap();
        let seed: Value = serde_json::from_str(&seed).unwrap();
        let text = apply(&seed.to_string(), &d);
        let Ok(pr) = serde_json::from_str::<Value>(&text) else { return Ok(()) };
        if let Some(c) = flightdeck_core::forge::github::change_of(&pr, "acme/widgets", "github.com/acme/widgets") {
            for n in [c.files_changed, c.insertions, c.deletions].into_iter().flatten() {
                prop_assert!(n >= 0, "a negative diffstat accepted: {text}");
            }
            prop_assert!(c.commits >= 0, "negative commits accepted: {text}");
        }
        let files = flightdeck_core::forge::github::files_of(std::slice::from_ref(&pr));
        for f in files {
            prop_assert!(f.additions >= 0 && f.deletions >= 0, "{text}");
        }
    }
}

/// The TOML seeds parse: otherwise the properties above would only ever test refusals.
#[test]
fn toml_seeds_are_valid() {
    flightdeck_core::config::RawConfig::parse(CONFIG_SEED, Path::new("c")).unwrap();
    flightdeck_core::domain::policy::PolicyFile::parse(POLICY_SEED, Path::new("p")).unwrap();
}

const PATCH_SEED: &str = "@@ -1,3 +1,4 @@\n line one\n-line two\n+line 2\n+line 2b\n line three\n@@ -10,2 +11,2 @@ fn x()\n-a\n+b\n \\ No newline at end of file\n";

proptest! {
    #![proptest_config(config(512))]

    /// A pull request file's `patch` (forge text): hunks are read or the rest is counted as
    /// omitted, never a panic, and never more lines than the text has.
    #[test]
    fn github_patches(cut in 0..PATCH_SEED.len(), noise in "[-+ @,0-9a-z\\n\\\\]{0,60}", at in 0..PATCH_SEED.len()) {
        let mut text = PATCH_SEED.get(..cut).unwrap_or(PATCH_SEED).to_string();
        let at = at.min(text.len());
        if text.is_char_boundary(at) {
            text.insert_str(at, &noise);
        }
        let (hunks, omitted) = flightdeck_core::forge::diff::parse_patch(&text);
        prop_assert!(omitted >= 0);
        let lines: usize = hunks.iter().map(|h| h.lines.len()).sum();
        prop_assert!(lines <= text.lines().count(), "{lines} lines from {text:?}");
    }
}

fn generic_seeds() -> Vec<String> {
    // The documented examples of Flightdeck's own format (docs/agent-log-format.md).
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/agent-log-format.md"),
    )
    .unwrap();
    let lines: Vec<String> = doc
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('{') && serde_json::from_str::<Value>(l).is_ok())
        .map(String::from)
        .collect();
    assert!(
        lines.len() >= 3,
        "too few examples in docs/agent-log-format.md"
    );
    lines
}

fn gemini_seed() -> String {
    let dir = fixtures().join("gemini/tmp");
    let hash = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let chat = std::fs::read_dir(hash.join("chats"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::read_to_string(chat).unwrap()
}

const CONFIG_SEED: &str = r#"[database]
url = "postgres://flightdeck@db.internal/flightdeck"
[server]
bind = "127.0.0.1"
port = 7878
hosts = ["deck.example.vpn"]
[sources]
repos = ["/home/me/src/api", "/home/me/src/web"]
claude_dirs = ["/home/me/.claude"]
codex_home = "/home/me/.codex"
[team.members.alice]
name = "Alice Martin"
emails = ["alice@acme.dev"]
[team.release_approvers]
production = ["alice"]
"#;

const POLICY_SEED: &str = r#"[default]
required_checks = ["build", "test"]
agent_approvals = 1
human_approvals = 0
max_agent_cost_usd = 25.0
[[default.protected]]
paths = ["migrations/**", "src/billing/**"]
approvals = 2
owners = ["Alice Martin"]
[[default.freeze]]
start = "2026-12-20T00:00:00Z"
end = "2027-01-05T00:00:00Z"
"#;

/// TOML-shaped text: the seed with one line replaced, cut, or extended by random key-value
/// lines, or random text.
fn toml_like(seed: &'static str) -> impl Strategy<Value = String> {
    let lines: Vec<&'static str> = seed.lines().collect();
    let n = lines.len();
    prop_oneof![
        (
            0..n,
            "[a-z_\\[\\]\\.\"]{0,12} ?= ?[-0-9a-z\\[\\]\\.\" ,e]{0,16}"
        )
            .prop_map(move |(i, l)| {
                let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                v[i] = l;
                v.join("\n")
            }),
        (0..seed.len()).prop_map(move |cut| seed.get(..cut).unwrap_or(seed).to_string()),
        ".{0,80}",
        Just(seed.to_string()),
    ]
}

/// One change to a work tree of five files, `f0`…`f4` (in `d/` for odd ones).
#[derive(Debug, Clone)]
enum Op {
    /// Text lines from a small alphabet (so old and new share lines); `false`: no final newline.
    Write(usize, Vec<u8>, bool),
    /// A NUL byte makes it binary to git.
    Binary(usize, Vec<u8>),
    Delete(usize),
    /// Renamed to another of the five names (a deletion and an addition, renames not followed).
    Rename(usize, usize),
    /// Executable bit flipped: a mode-only change.
    Chmod(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..5usize, prop::collection::vec(0u8..6, 0..12), any::<bool>())
            .prop_map(|(f, l, nl)| Op::Write(f, l, nl)),
        1 => (0..5usize, prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(f, b)| Op::Binary(f, b)),
        1 => (0..5usize).prop_map(Op::Delete),
        1 => (0..5usize, 0..5usize).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => (0..5usize).prop_map(Op::Chmod),
    ]
}

fn name(f: usize) -> String {
    if f % 2 == 1 {
        format!("d/f{f}")
    } else {
        format!("f{f}")
    }
}

fn apply_op(dir: &Path, op: &Op) {
    use std::os::unix::fs::PermissionsExt;
    let path = |f: usize| dir.join(name(f));
    let write = |f: usize, bytes: &[u8]| {
        std::fs::create_dir_all(path(f).parent().unwrap()).unwrap();
        std::fs::write(path(f), bytes).unwrap();
    };
    match op {
        Op::Write(f, lines, newline) => {
            let mut text: String = lines.iter().map(|l| format!("line {l}\n")).collect();
            if !newline && text.ends_with('\n') {
                text.pop();
            }
            write(*f, text.as_bytes());
        }
        Op::Binary(f, bytes) => {
            let mut b = bytes.clone();
            b.insert(0, 0);
            write(*f, &b);
        }
        Op::Delete(f) => {
            let _ = std::fs::remove_file(path(*f));
        }
        Op::Rename(a, b) => {
            if a != b && path(*a).exists() {
                std::fs::create_dir_all(path(*b).parent().unwrap()).unwrap();
                std::fs::rename(path(*a), path(*b)).unwrap();
            }
        }
        Op::Chmod(f) => {
            if let Ok(m) = std::fs::metadata(path(*f)) {
                let mode = m.permissions().mode() ^ 0o111;
                std::fs::set_permissions(path(*f), std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        // The user's own git settings (a diff algorithm, say) must not change what is compared.
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@acme.dev",
            "-c",
            "core.fileMode=true",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git diff --numstat --no-renames A B` as (files, added, removed); binary files count as a
/// file with no lines.
fn git_numstat(dir: &Path, from: &str, to: &str) -> (i64, i64, i64) {
    let text = git_out(dir, &["diff", "--numstat", "--no-renames", from, to]);
    text.lines().fold((0, 0, 0), |(f, a, d), l| {
        let mut parts = l.split('\t');
        let add = parts
            .next()
            .and_then(|x| x.parse::<i64>().ok())
            .unwrap_or(0);
        let del = parts
            .next()
            .and_then(|x| x.parse::<i64>().ok())
            .unwrap_or(0);
        (f + 1, a + add, d + del)
    })
}

proptest! {
    // Each case builds a real repository with git: fewer cases than the parsers get.
    #![proptest_config(config(40))]

    /// The scan's diffstat is `git diff --numstat`'s on random histories: edits sharing lines,
    /// binary files, deletions, renames, mode-only changes, files without a final newline.
    #[test]
    fn diffstat_matches_git_on_random_histories(
        commits in prop::collection::vec(prop::collection::vec(op(), 1..4), 1..7)
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git_out(dir, &["init", "-q"]);
        let mut shas = Vec::new();
        for ops in &commits {
            for o in ops {
                apply_op(dir, o);
            }
            git_out(dir, &["add", "-A"]);
            git_out(dir, &["commit", "-q", "--allow-empty", "-m", "c"]);
            shas.push(git_out(dir, &["rev-parse", "HEAD"]).trim().to_string());
        }
        let repo = git2::Repository::open(dir).unwrap();
        let odb = repo.odb().unwrap();
        let mut differ = flightdeck_core::sources::diffstat::Differ::new(&odb);
        // Newest first, as a history walk gives them (the Differ keeps objects between calls).
        for (i, sha) in shas.iter().enumerate().rev() {
            let c = repo.find_commit(git2::Oid::from_str(sha).unwrap()).unwrap();
            let parent = c.parent(0).ok().map(|p| p.tree_id());
            let ours = differ.between(parent, c.tree_id()).unwrap();
            // git's empty tree, for the root commit.
            let from = if i == 0 { "4b825dc642cb6eb9a060e54bf8d69288fbee4904".to_string() } else { shas[i - 1].clone() };
            let theirs = git_numstat(dir, &from, sha);
            prop_assert_eq!((ours.files_changed, ours.insertions, ours.deletions), theirs, "commit {} of {:?}", i, commits);
        }
    }
}

/// Text of `lines` lines drawn from `alphabet` distinct ones (few: lines repeat, as braces and
/// blank lines do in code, which is where git's heuristics decide).
fn text_of(ids: &[u16]) -> String {
    ids.iter().map(|i| format!("l{i}\n")).collect()
}

/// A file, and the same file after random block edits (or an unrelated one).
fn file_pair() -> impl Strategy<Value = (Vec<u16>, Vec<u16>)> {
    (1u16..60, 200usize..3000).prop_flat_map(|(alphabet, len)| {
        let base = prop::collection::vec(0..alphabet, len);
        let edits = prop::collection::vec(
            (
                0.0f64..1.0,
                0usize..40,
                prop::collection::vec(0..alphabet, 0..40),
            ),
            0..30,
        );
        let unrelated = prop::collection::vec(0..alphabet, 0..len);
        (base, edits, unrelated, any::<bool>()).prop_map(|(base, edits, unrelated, edit)| {
            if !edit {
                return (base, unrelated);
            }
            let mut new = base.clone();
            for (at, cut, insert) in edits {
                let at = ((new.len() as f64) * at) as usize;
                let cut = cut.min(new.len() - at);
                new.splice(at..at + cut, insert);
            }
            (base, new)
        })
    })
}

proptest! {
    #![proptest_config(config(24))]

    /// Large files, where git's heuristics (common lines set aside, the search cut short) decide
    /// what counts: the same numbers as `git diff --no-index --numstat`.
    #[test]
    fn line_counts_match_git_on_large_files((a, b) in file_pair()) {
        let tmp = tempfile::tempdir().unwrap();
        let (pa, pb) = (tmp.path().join("a"), tmp.path().join("b"));
        let (ta, tb) = (text_of(&a), text_of(&b));
        std::fs::write(&pa, &ta).unwrap();
        std::fs::write(&pb, &tb).unwrap();
        let out = std::process::Command::new("git")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["diff", "--no-index", "--numstat", "--no-renames"])
            .arg(&pa)
            .arg(&pb)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let (added, removed) = text.lines().next().map_or((0, 0), |l| {
            let mut p = l.split('\t');
            (p.next().unwrap().parse::<i64>().unwrap(), p.next().unwrap().parse::<i64>().unwrap())
        });
        let ours = flightdeck_core::sources::diffstat::line_diff(ta.as_bytes(), tb.as_bytes());
        prop_assert_eq!(ours, (added, removed));
    }
}

// Experiment result files, both shapes: cells replaced by any text, rows cut short or
// repeated, columns dropped, the file cut anywhere.
const UNITS_SEED: &str =
    "unit_id,variation,exposed_at,converted,revenue,revenue_denominator,load_ms,load_ms_pre\n\
u1,control,1772409600,1,12.5,2,310,330\n\
u2,treatment,2026-03-02T10:00:00Z,0,0,1,295,301\n\
u3,control,1772413200,0,3.25,3,,320\n\
u4,treatment,1772416800,1,40,5,280,350\n";
const SUMS_SEED: &str = "variation,metric,kind,n,sum,sum_squares,denominator_sum,denominator_sum_squares,sum_products\n\
control,converted,binomial,1000,120,120,,,\n\
treatment,converted,binomial,1010,140,140,,,\n\
control,revenue,ratio,1000,300,500,900,1100,600\n\
treatment,revenue,ratio,1010,330,560,910,1120,640\n";

#[derive(Debug, Clone)]
enum CsvDamage {
    Cell(usize, usize, String),
    DropColumn(usize),
    RepeatRow(usize),
    CutRow(usize, usize),
    Cut(usize),
}

fn csv_damage() -> impl Strategy<Value = Vec<CsvDamage>> {
    let one = prop_oneof![
        6 => (0usize..8, 0usize..12, prop_oneof![
            "[-+0-9.eE]{0,12}", ".{0,16}", Just("NaN".to_string()), Just("inf".to_string()),
            Just("1e308".to_string()), Just("-1".to_string()), Just("\"".to_string()),
        ])
            .prop_map(|(r, c, t)| CsvDamage::Cell(r, c, t)),
        1 => (0usize..12).prop_map(CsvDamage::DropColumn),
        1 => (0usize..8).prop_map(CsvDamage::RepeatRow),
        1 => (0usize..8, 0usize..12).prop_map(|(r, c)| CsvDamage::CutRow(r, c)),
        1 => (0usize..1000).prop_map(CsvDamage::Cut),
    ];
    prop::collection::vec(one, 1..4)
}

fn damage_csv(seed: &str, damage: &[CsvDamage]) -> String {
    let mut rows: Vec<Vec<String>> = seed
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    for d in damage {
        match d {
            CsvDamage::Cell(r, c, t) => {
                let n = rows.len();
                let row = &mut rows[r % n];
                let at = c % row.len().max(1);
                if let Some(cell) = row.get_mut(at) {
                    *cell = t.clone();
                }
            }
            CsvDamage::DropColumn(c) => {
                for row in &mut rows {
                    if !row.is_empty() {
                        let at = c % row.len();
                        row.remove(at);
                    }
                }
            }
            CsvDamage::RepeatRow(r) => {
                let row = rows[r % rows.len()].clone();
                rows.push(row);
            }
            CsvDamage::CutRow(r, c) => {
                let n = rows.len();
                let row = &mut rows[r % n];
                row.truncate(c % (row.len() + 1));
            }
            CsvDamage::Cut(per_mille) => {
                let text: String = rows.iter().map(|r| r.join(",") + "\n").collect();
                let n = text.chars().count() * per_mille / 1000;
                return text.chars().take(n).collect();
            }
        }
    }
    rows.iter().map(|r| r.join(",") + "\n").collect()
}

/// Reads a damaged experiment file: refused with the file named, or accepted with sums a
/// scorecard can use (finite, counts not negative).
fn read_experiment_file(text: &str) -> Result<(), TestCaseError> {
    use flightdeck_core::sources::experiment_file::{read, ImportOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.csv");
    std::fs::write(&path, text).unwrap();
    let o = ImportOptions {
        experiment: "checkout-cta".into(),
        ..Default::default()
    };
    match read(&path, &o) {
        Err(e) => prop_assert!(e.to_string().contains("results.csv"), "{e}"),
        Ok(done) => {
            for s in &done.sums {
                let mut all = vec![s.n, s.sum, s.sum_squares];
                for (a, b, c) in [s.denominator, s.pre].into_iter().flatten() {
                    all.extend([a, b, c]);
                }
                prop_assert!(all.iter().all(|x| x.is_finite()), "{s:?} from {text}");
                prop_assert!(s.n >= 0.0, "{s:?} from {text}");
            }
        }
    }
    Ok(())
}

#[test]
fn experiment_seeds_are_valid() {
    for seed in [UNITS_SEED, SUMS_SEED] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        std::fs::write(&path, seed).unwrap();
        let o = flightdeck_core::sources::experiment_file::ImportOptions {
            experiment: "x".into(),
            ..Default::default()
        };
        let done = flightdeck_core::sources::experiment_file::read(&path, &o).unwrap();
        assert!(!done.sums.is_empty());
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn experiment_unit_rows(d in csv_damage()) {
        read_experiment_file(&damage_csv(UNITS_SEED, &d))?;
    }

    #[test]
    fn experiment_aggregates(d in csv_damage()) {
        read_experiment_file(&damage_csv(SUMS_SEED, &d))?;
    }
}

/// The deploy and incident webhooks: any JSON body a pipeline or pager could send (a real one
/// damaged), recorded against a real repository. Each is recorded or refused by name — never
/// a panic, never a store error for what is only bad input.
#[test]
fn deploy_and_incident_webhooks() {
    use flightdeck_core::domain::{deploys, incidents};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo_path = dir.path().join("api");
    let repo = git2::Repository::init(&repo_path).unwrap();
    let sig =
        git2::Signature::new("Dev", "dev@acme.dev", &git2::Time::new(1_772_409_600, 0)).unwrap();
    let tree = repo.treebuilder(None).unwrap().write().unwrap();
    let tree = repo.find_tree(tree).unwrap();
    let head = repo
        .commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
        .unwrap()
        .to_string();
    let store = rt.block_on(async {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = flightdeck_core::store::Store::open(&url).await.unwrap();
        let src = flightdeck_core::domain::ingest::Sources {
            repos: vec![repo_path.clone()],
            ..Default::default()
        };
        flightdeck_core::domain::ingest::run(&store, &src, None, 1_772_409_700)
            .await
            .unwrap();
        store
    });
    let deploy_seed = serde_json::json!({"repo": "api", "environment": "production",
        "sha": head, "status": "success", "at": 1_772_409_800, "id": "pipeline-7"})
    .to_string();
    let incident_seed = serde_json::json!({"repo": "api", "title": "checkout down",
        "opened": 1_772_409_900, "closed": 1_772_413_500, "id": "pd-1",
        "url": "https://pager.example/1"})
    .to_string();
    // The seeds themselves are accepted: otherwise only refusals would be tested.
    rt.block_on(async {
        let d: deploys::Record = serde_json::from_str(&deploy_seed).unwrap();
        deploys::record(&store, &d, "webhook", 1_772_410_000)
            .await
            .unwrap();
        let i: incidents::IncidentRecord = serde_json::from_str(&incident_seed).unwrap();
        incidents::record(&store, &i, 1_772_410_000).await.unwrap();
    });
    let mut runner = proptest::test_runner::TestRunner::new(config(128));
    runner
        .run(&(damage(), damage()), |(dd, di)| {
            let deploy = apply(&deploy_seed, &dd);
            let incident = apply(&incident_seed, &di);
            rt.block_on(async {
                if let Ok(r) = serde_json::from_str::<deploys::Record>(&deploy) {
                    match deploys::record(&store, &r, "webhook", 1_772_410_000).await {
                        Ok(d) => {
                            prop_assert!(!d.environment.trim().is_empty(), "{deploy}");
                            prop_assert_eq!(d.sha.len(), 40, "{}", deploy);
                        }
                        Err(deploys::DeployError::Store(e)) => {
                            prop_assert!(false, "a store error for a bad body: {e}: {deploy}")
                        }
                        Err(e) => prop_assert!(!e.to_string().trim().is_empty(), "{deploy}"),
                    }
                }
                if let Ok(r) = serde_json::from_str::<incidents::IncidentRecord>(&incident) {
                    match incidents::record(&store, &r, 1_772_410_000).await {
                        Ok(i) => {
                            prop_assert!(i.closed_at.is_none_or(|c| c >= i.opened_at), "{incident}")
                        }
                        Err(incidents::IncidentError::Store(e)) => {
                            prop_assert!(false, "a store error for a bad body: {e}: {incident}")
                        }
                        Err(e) => prop_assert!(!e.to_string().trim().is_empty(), "{incident}"),
                    }
                }
                Ok(())
            })
        })
        .unwrap();
    rt.block_on(store.close());
}
