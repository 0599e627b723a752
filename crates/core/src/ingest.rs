//! Ingest: runs every configured source once and writes what it found to the store, then tells
//! the event bus. Idempotent (upserts on natural keys) and incremental for git (per-repo cursor
//! of branch heads). A source that fails is reported and skipped; it never stops the others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::events::{Event, EventBus};
use crate::pricing::PriceTable;
use crate::sources::tail::{self, LineReader, Plan};
use crate::sources::{claude, codex, gemini, generic, git, Batch, LineParser};
use crate::store::Store;

#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub repos: Vec<PathBuf>,
    pub claude_dirs: Vec<PathBuf>,
    pub codex_homes: Vec<PathBuf>,
    /// Gemini CLI data dirs (`~/.gemini/tmp`).
    pub gemini_dirs: Vec<PathBuf>,
    /// Dirs of Flightdeck's own log format: `<dir>/<agent>/*.jsonl`.
    pub generic_dirs: Vec<PathBuf>,
    /// When set, only these log files (under the dirs above) are read: the watcher's pass.
    pub only_log_files: Option<Vec<PathBuf>>,
}

/// Where a long ingest is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub files_done: usize,
    pub files_total: usize,
    pub lines: i64,
}

/// Receives progress during agent-log ingest.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Sync);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    pub repos: usize,
    pub new_commits: usize,
    /// Runs whose data changed in this pass.
    pub runs: usize,
    /// Some branch head moved, appeared or vanished.
    pub refs_changed: bool,
    /// Log files read (new or grown) and lines consumed from them.
    pub files: usize,
    pub lines: i64,
    pub skipped_lines: i64,
    /// One line each: what could not be read, and where.
    pub problems: Vec<String>,
}

pub async fn run(
    store: &Store,
    sources: &Sources,
    bus: Option<&EventBus>,
    now: i64,
) -> Result<IngestReport> {
    run_with_progress(store, sources, bus, now, None).await
}

pub async fn run_with_progress(
    store: &Store,
    sources: &Sources,
    bus: Option<&EventBus>,
    now: i64,
    progress: Option<ProgressFn<'_>>,
) -> Result<IngestReport> {
    let mut report = IngestReport::default();

    // Repos from config and flags, plus those added with `flightdeck repo add`.
    let mut repo_paths: Vec<PathBuf> = sources.repos.clone();
    for p in store.watched_repos().await? {
        let p = PathBuf::from(p);
        if !repo_paths.contains(&p) {
            repo_paths.push(p);
        }
    }
    for path in &repo_paths {
        let known: Vec<String> = match store.cursor("git", &path.display().to_string()).await? {
            Some(c) => serde_json::from_str(&c).unwrap_or_default(),
            None => Vec::new(),
        };
        let p = path.clone();
        let mut known_sorted = known.clone();
        known_sorted.sort();
        let scanned = tokio::task::spawn_blocking(move || git::scan(&p, &known, now))
            .await
            .map_err(|e| crate::Error::Invalid {
                path: path.clone(),
                message: format!("scan task failed: {e}"),
            })?;
        let scan = match scanned {
            Ok(s) => s,
            Err(e) => {
                report.problems.push(e.to_string());
                continue;
            }
        };
        store.upsert_repo(&scan.repo).await?;
        store
            .replace_branches(&scan.repo.path, &scan.branches)
            .await?;
        store.upsert_commits(&scan.commits).await?;
        let open: Vec<String> = scan.changes.iter().map(|c| c.id.clone()).collect();
        for c in &scan.changes {
            store.upsert_change_request(c).await?;
        }
        store
            .close_local_changes_except(&scan.repo.path, &open)
            .await?;
        let heads = serde_json::to_string(&scan.heads).unwrap_or_else(|_| "[]".into());
        store
            .set_cursor("git", &path.display().to_string(), &heads, now)
            .await?;
        report.repos += 1;
        report.new_commits += scan.commits.len();
        let mut heads_sorted = scan.heads.clone();
        heads_sorted.sort();
        report.refs_changed |= heads_sorted != known_sorted;
    }

    // Every known repo and linked worktree, not just this pass's: a pass that only read logs
    // must still link runs to their repos.
    let mut repo_roots: Vec<(PathBuf, String)> = store
        .repos()
        .await?
        .into_iter()
        .map(|r| (PathBuf::from(&r.path), r.path))
        .collect();
    for b in store.branches().await? {
        if let Some(wt) = b.worktree_path {
            repo_roots.push((PathBuf::from(wt), b.repo));
        }
    }
    let agents = ingest_agent_logs(store, sources, &repo_roots, now, &mut report, progress).await?;
    report.runs = agents;

    // Only a pass that changed something is news; idle rescans stay quiet.
    let changed = report.refs_changed || report.new_commits > 0 || report.runs > 0;
    if let (Some(bus), true) = (bus, changed) {
        bus.publish(Event::Changed {
            source: "ingest".into(),
            topics: ["inbox", "changes", "agents", "repos", "spend", "velocity"]
                .map(String::from)
                .to_vec(),
        });
    }
    Ok(report)
}

/// Re-ingests every `every` until the task is aborted; git scans are incremental, so an idle
/// pass is cheap. Failures are logged and retried on the next tick.
pub fn spawn_periodic(
    store: Store,
    bus: EventBus,
    sources: Sources,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = run(&store, &sources, Some(&bus), chrono::Utc::now().timestamp()).await
            {
                tracing::warn!("rescan failed: {e}");
            }
        }
    })
}

/// What every file of one pass shares.
#[derive(Clone, Copy)]
struct Pass<'a> {
    store: &'a Store,
    prices: &'a PriceTable,
    now: i64,
}

/// How a log file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Claude,
    Codex,
    /// Whole-file JSON, rewritten on every update.
    Gemini,
    /// Flightdeck's own JSONL (docs/agent-log-format.md).
    Generic,
}

/// Lines per transaction: large enough to amortise the commit, small enough that a kill loses
/// little work and memory stays flat however big a file is.
const BATCH_LINES: usize = 10_000;

/// Reads what is new in every agent log, then rebuilds the runs (and the log-derived spend) of
/// the sessions it touched. Returns how many runs changed.
async fn ingest_agent_logs(
    store: &Store,
    sources: &Sources,
    repo_roots: &[(PathBuf, String)],
    now: i64,
    report: &mut IngestReport,
    progress: Option<ProgressFn<'_>>,
) -> Result<usize> {
    let prices = PriceTable::builtin();
    // The format is carried with each file: a generic-format folder may be named like an agent
    // that has a reader of its own.
    let mut files: Vec<(Format, String, PathBuf)> = claude::files(&sources.claude_dirs)
        .into_iter()
        .map(|f| (Format::Claude, claude::AGENT.to_string(), f))
        .collect();
    for home in &sources.codex_homes {
        files.extend(
            codex::files(home)
                .into_iter()
                .map(|f| (Format::Codex, codex::AGENT.to_string(), f)),
        );
    }
    files.extend(
        gemini::files(&sources.gemini_dirs)
            .into_iter()
            .map(|f| (Format::Gemini, gemini::AGENT.to_string(), f)),
    );
    files.extend(
        generic::files(&sources.generic_dirs)
            .into_iter()
            .map(|(agent, f)| (Format::Generic, agent, f)),
    );
    // Gemini files name their project only by the SHA-256 of its root.
    let hashes: Vec<(String, String)> = repo_roots
        .iter()
        .map(|(root, _)| {
            (
                gemini::project_hash(&root.display().to_string()),
                root.display().to_string(),
            )
        })
        .collect();
    let cwd_of_hash = |h: &str| {
        hashes
            .iter()
            .find(|(x, _)| x == h)
            .map(|(_, root)| root.clone())
    };
    if let Some(only) = &sources.only_log_files {
        files.retain(|(_, _, f)| only.contains(f));
    }
    let pass = Pass {
        store,
        prices: &prices,
        now,
    };
    let mut cursors = store.log_cursors().await?;
    let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
    // Runs and the spend rollup are rebuilt after the batches commit. A pass killed in between
    // leaves the rollup "dirty", and the next pass rebuilds every run instead of only the ones
    // it touches.
    if store.cursor("logs", "rollup").await?.as_deref() == Some("dirty") {
        touched.extend(store.log_sessions().await?);
    }
    store.set_cursor("logs", "rollup", "dirty", now).await?;
    for (i, (format, agent, file)) in files.iter().enumerate() {
        let stored = cursors.remove(&file.display().to_string());
        if let Some(p) = progress {
            p(Progress {
                files_done: i,
                files_total: files.len(),
                lines: report.lines,
            });
        }
        let read = if *format == Format::Gemini {
            ingest_whole_file(&pass, agent, file, stored, report, &cwd_of_hash).await
        } else {
            ingest_file(&pass, *format, agent, file, stored, report).await
        };
        match read {
            Ok(sessions) => touched.extend(sessions.into_iter().map(|s| (agent.to_string(), s))),
            Err(crate::Error::Io { path, source }) => {
                // A file that vanished or cannot be read is reported; the others go on.
                report
                    .problems
                    .push(format!("{}: {source}", path.display()));
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(p) = progress {
        p(Progress {
            files_done: files.len(),
            files_total: files.len(),
            lines: report.lines,
        });
    }
    let repo_of = |cwd: &str| -> Option<String> {
        let cwd = Path::new(cwd);
        repo_roots
            .iter()
            .filter(|(root, _)| cwd.starts_with(root))
            .max_by_key(|(root, _)| root.as_os_str().len())
            .map(|(_, repo)| repo.clone())
    };
    for (agent, session) in &touched {
        store.rebuild_run(agent, session, &repo_of, now).await?;
    }
    if !touched.is_empty() {
        store.rebuild_log_spend(&prices).await?;
    }
    store.set_cursor("logs", "rollup", "clean", now).await?;
    Ok(touched.len())
}

/// Reads the new complete lines of one file in batches; returns the sessions it touched.
async fn ingest_file(
    pass: &Pass<'_>,
    format: Format,
    agent: &str,
    file: &Path,
    stored: Option<tail::Cursor>,
    report: &mut IngestReport,
) -> Result<BTreeSet<String>> {
    let Pass { store, prices, now } = *pass;
    let path = file.display().to_string();
    let io = |e| crate::Error::io(file, e);
    let mut touched = BTreeSet::new();
    let mut cursor = match tail::plan(file, stored.as_ref()).map_err(io)? {
        Plan::Unchanged => return Ok(touched),
        Plan::Resume(c) => c,
        Plan::Restart { had_data } => {
            if had_data {
                touched.extend(store.forget_log_file(agent, &path).await?);
            }
            tail::identify(file).map_err(io)?
        }
    };
    let mut parser: Box<dyn LineParser + Send> = match format {
        Format::Codex => Box::new(codex::Parser::new(file, cursor.state.as_deref())),
        Format::Claude => Box::new(claude::Parser::new(file)),
        // Gemini files are read whole by `ingest_whole_file` and never get here.
        Format::Gemini | Format::Generic => Box::new(generic::Parser::new(file)),
    };
    let mut reader = LineReader::open(file, cursor.offset, cursor.line_no).map_err(io)?;
    report.files += 1;
    loop {
        let mut batch = Batch::default();
        let mut n = 0;
        while n < BATCH_LINES {
            let Some((line_no, line)) = reader.next_line().map_err(io)? else {
                break;
            };
            n += 1;
            if line.trim().is_empty() {
                continue;
            }
            if let Err(reason) = parser.parse(line_no, &line, &mut batch) {
                batch.skipped.push((line_no, reason));
            }
        }
        if n == 0 {
            break;
        }
        cursor.offset = reader.offset;
        cursor.line_no = reader.line_no;
        cursor.skipped += batch.skipped.len() as i64;
        cursor.state = Some(parser.state());
        if cursor.head_len < 1024 {
            // The file was shorter than the identity window when first seen.
            let fresh = tail::identify(file).map_err(io)?;
            cursor.head_len = fresh.head_len;
            cursor.head_hash = fresh.head_hash;
        }
        let others = store
            .commit_log_batch(agent, &path, &batch, &cursor, prices, now)
            .await?;
        touched.extend(others);
        report.lines += n as i64;
        report.skipped_lines += batch.skipped.len() as i64;
        for (line_no, reason) in &batch.skipped {
            if report.problems.len() < 50 {
                report.problems.push(format!("{path}:{line_no}: {reason}"));
            }
        }
        touched.extend(batch.sessions.into_keys());
        touched.extend(batch.records.into_iter().map(|r| r.session_id));
    }
    Ok(touched)
}

/// Gemini CLI rewrites its session file whole on every update: a changed file is forgotten and
/// read again in full. A file caught mid-rewrite (invalid JSON) is left for the next pass.
async fn ingest_whole_file(
    pass: &Pass<'_>,
    agent: &str,
    file: &Path,
    stored: Option<tail::Cursor>,
    report: &mut IngestReport,
    cwd_of_hash: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<BTreeSet<String>> {
    let Pass { store, prices, now } = *pass;
    let path = file.display().to_string();
    let io = |e| crate::Error::io(file, e);
    let mut touched = BTreeSet::new();
    if tail::plan(file, stored.as_ref()).map_err(io)? == Plan::Unchanged {
        return Ok(touched);
    }
    let mut cursor = tail::identify(file).map_err(io)?;
    let text = std::fs::read_to_string(file).map_err(io)?;
    let batch = match gemini::parse(file, &text, cwd_of_hash) {
        Ok(b) => b,
        Err(reason) => {
            report
                .problems
                .push(format!("{path}: {reason} (will retry)"));
            return Ok(touched);
        }
    };
    if stored.is_some() {
        touched.extend(store.forget_log_file(agent, &path).await?);
    }
    cursor.offset = text.len() as i64;
    cursor.line_no = batch.records.len() as i64;
    report.files += 1;
    touched.extend(
        store
            .commit_log_batch(agent, &path, &batch, &cursor, prices, now)
            .await?,
    );
    touched.extend(batch.sessions.into_keys());
    Ok(touched)
}
