//! Ingest: runs every configured source once and writes what it found to the store, then tells
//! the event bus. Idempotent (upserts on natural keys) and incremental for git (per-repo cursor
//! of branch heads). A source that fails is reported and skipped; it never stops the others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::model::error::Result;
use crate::model::events::{Event, EventBus};
use crate::model::pricing::PriceTable;
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
    /// The user's prices over the built-in table (usage is re-priced when they change).
    pub prices: crate::model::pricing::PriceOverrides,
    /// The configured vendor-concentration threshold, recorded for the inbox.
    pub concentration_threshold: Option<f64>,
    /// Who launches the work read here (this machine's user), kept on each usage record.
    pub person: String,
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
    /// New commits whose diffstat could not be computed (a partial or shallow clone, a lost
    /// object): stored with it unknown.
    pub unknown_diffstats: usize,
    /// One line each: what could not be read, and where.
    pub problems: Vec<String>,
    /// Of those, the sources that could not be read at all (a repo that is not there or not a
    /// repository, a log file that cannot be opened): a failed ingest for the command line,
    /// though everything else was read. Corrupt lines are not here: they are skipped and
    /// counted.
    pub unreadable: Vec<String>,
    /// Repos rekeyed from a path to their identity (once, after an upgrade).
    pub carried: Vec<String>,
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
    if sources.only_log_files.is_none() {
        let prices = PriceTable::with_overrides(&sources.prices);
        for c in crate::domain::repos::carry_over(store, &prices, now).await? {
            report.carried.push(format!("{} is now {}", c.from, c.to));
        }
    }

    // Repos from config and flags, plus those added with `flightdeck repo add` — except in a
    // watcher's pass (`only_log_files` set), which reads exactly what changed.
    let mut repo_paths: Vec<PathBuf> = sources.repos.clone();
    if sources.only_log_files.is_none() {
        for p in store.watched_repos().await? {
            let p = PathBuf::from(p);
            if !repo_paths.contains(&p) {
                repo_paths.push(p);
            }
        }
    }
    for path in &repo_paths {
        let key = path.display().to_string();
        let cursor = store.cursor("git", &key).await?;
        // A shallow boundary that moved (`git fetch --unshallow`, `--deepen`) brought history
        // the known heads would hide: walk it all again (writes are upserts).
        let shallow = git::shallow_of(path).join(",");
        // Per machine: another machine's clone at the same path may be shallow and this not.
        let shallow_key = store.clone_key(&key);
        let deepened = store
            .cursor("git-shallow", &shallow_key)
            .await?
            .unwrap_or_default()
            != shallow;
        let known: Vec<String> = match &cursor {
            Some(c) if !deepened => serde_json::from_str(c).unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut known_sorted = known.clone();
        known_sorted.sort();
        // The new commits are written in batches while the scan reads on, so a first scan of a
        // long history never holds it all.
        let (batches, mut written) = tokio::sync::mpsc::channel::<Vec<crate::model::Commit>>(2);
        let p = path.clone();
        let scanning = tokio::task::spawn_blocking(move || {
            git::scan_batched(&p, &known, now, &mut |batch| {
                batches
                    .blocking_send(batch)
                    .map_err(|_| crate::Error::Invalid {
                        path: p.clone(),
                        message: "scan stopped: the store took no more commits".into(),
                    })
            })
        });
        let mut stored = Ok(());
        let mut unknown_diffstats = 0;
        while let Some(batch) = written.recv().await {
            unknown_diffstats += batch.iter().filter(|c| c.insertions.is_none()).count();
            if let Err(e) = store.upsert_commits(&batch).await {
                stored = Err(e);
                break;
            }
        }
        // Closing the channel stops a scan whose batches can no longer be stored.
        drop(written);
        let scanned = scanning.await.map_err(|e| crate::Error::Invalid {
            path: path.clone(),
            message: format!("scan task failed: {e}"),
        })?;
        stored?;
        let scan = match scanned {
            Ok(s) => s,
            Err(e) => {
                let mut line = e.to_string();
                if !sources.repos.contains(path) {
                    line.push_str(&format!(
                        " (added with `flightdeck repo add`; `flightdeck repo remove {}` stops \
                         watching it)",
                        path.display()
                    ));
                }
                report.problems.push(line.clone());
                report.unreadable.push(line);
                continue;
            }
        };
        let mut heads_sorted = scan.heads.clone();
        heads_sorted.sort();
        report.repos += 1;
        // What this machine's clone looked like when last written: an idle pass, where nothing
        // moved, writes nothing (and so wakes no one). Keyed by clone (machine and path), and
        // over everything the writes below store, not just the heads: a renamed branch, a new
        // worktree or remote is a change too.
        let clone = store.clone_key(scan.repo.path.as_deref().unwrap_or_default());
        let state = clone_state(&scan);
        if scan.new_commits == 0
            && store.cursor("git-state", &clone).await?.as_deref() == Some(state.as_str())
        {
            continue;
        }
        store.upsert_repo(&scan.repo).await?;
        store
            .replace_branches(&scan.repo.id, &clone, &scan.branches)
            .await?;
        fill_unknown_diffstats(store, path, &scan.repo.id, &clone, now).await?;
        let open: Vec<String> = scan.changes.iter().map(|c| c.id.clone()).collect();
        let with_pr = store.open_pull_request_heads(&scan.repo.id).await?;
        for c in scan.changes.iter().filter(|c| !with_pr.contains(&c.head)) {
            store.upsert_change_request(c).await?;
            crate::domain::policy::record_change_paths(store, path, c).await?;
        }
        settle_vanished(store, &scan.repo, &clone, &open, now).await?;
        store.fold_local_changes(&scan.repo.id).await?;
        // Deploys recorded before their commits were scanned are measured now.
        if scan.new_commits > 0 {
            crate::domain::deploys::measure_repo(store, &scan.repo.id).await?;
        }
        let heads = serde_json::to_string(&scan.heads).unwrap_or_else(|_| "[]".into());
        store
            .set_cursor("git", &path.display().to_string(), &heads, now)
            .await?;
        store.set_cursor("git-state", &clone, &state, now).await?;
        if deepened {
            store
                .set_cursor("git-shallow", &shallow_key, &shallow, now)
                .await?;
        }
        report.new_commits += scan.new_commits;
        report.unknown_diffstats += unknown_diffstats;
        report.refs_changed |= heads_sorted != known_sorted;
    }

    // Every known repo and linked worktree, not just this pass's: a pass that only read logs
    // must still link runs to their repos.
    let mut repo_roots: Vec<(PathBuf, String)> = store
        .repos()
        .await?
        .into_iter()
        .filter_map(|r| Some((PathBuf::from(r.path?), r.id)))
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
    if changed {
        crate::domain::work::adopt_runs(store).await?;
        crate::domain::work::follow_changes(store).await?;
    }
    if let (Some(bus), true) = (bus, changed) {
        bus.publish(Event::Changed {
            source: "ingest".into(),
            topics: [
                "inbox", "changes", "agents", "repos", "spend", "velocity", "work",
            ]
            .map(String::from)
            .to_vec(),
        });
    }
    Ok(report)
}

/// Commits stored with their diffstat unknown get it once their objects are here (a clone
/// refetched since). Only on a pass where the clone changed, and a few hundred a pass, taking
/// up after the last one tried: in a blobless clone most never can be, and each try reads trees
/// until the first missing object.
async fn fill_unknown_diffstats(
    store: &Store,
    path: &Path,
    repo: &str,
    clone: &str,
    now: i64,
) -> Result<()> {
    const PER_PASS: i64 = 500;
    let after = store.cursor("git-restat", clone).await?.unwrap_or_default();
    let mut unknown = store.unknown_diffstats(repo, &after, PER_PASS).await?;
    if unknown.is_empty() && !after.is_empty() {
        // Past the last one: round again from the start.
        unknown = store.unknown_diffstats(repo, "", PER_PASS).await?;
    }
    let Some(last) = unknown.last().cloned() else {
        return Ok(());
    };
    store.set_cursor("git-restat", clone, &last, now).await?;
    let p = path.to_path_buf();
    let found = tokio::task::spawn_blocking(move || git::diffstats(&p, &unknown))
        .await
        .map_err(|e| crate::Error::Invalid {
            path: path.to_path_buf(),
            message: format!("diffstat task failed: {e}"),
        })??;
    if found.is_empty() {
        return Ok(());
    }
    let found: std::collections::HashMap<String, crate::sources::diffstat::DiffStat> =
        found.into_iter().collect();
    let shas: Vec<String> = found.keys().cloned().collect();
    let mut rows = store.commits_with(repo, &shas).await?;
    for row in &mut rows {
        if let Some(s) = found.get(&row.sha) {
            row.files_changed = Some(s.files_changed);
            row.insertions = Some(s.insertions);
            row.deletions = Some(s.deletions);
        }
    }
    store.upsert_commits(&rows).await
}

/// A fingerprint of what a scan stores for a clone besides new commits: the repo's identity,
/// default branch and remote, each branch's head and worktree, each open change, and the
/// shallow boundary (an unshallowed clone reads again).
fn clone_state(scan: &git::RepoScan) -> String {
    use sha2::Digest;
    let mut branches: Vec<(&str, &str, Option<&str>)> = scan
        .branches
        .iter()
        .map(|b| {
            (
                b.name.as_str(),
                b.head_sha.as_str(),
                b.worktree_path.as_deref(),
            )
        })
        .collect();
    branches.sort();
    // Sorted: the scan lists branches loose refs first, packed after (a `git gc` reorders).
    let mut changes: Vec<String> = scan
        .changes
        .iter()
        .map(|c| serde_json::to_string(c).unwrap_or_default())
        .collect();
    changes.sort();
    let r = &scan.repo;
    let text = serde_json::json!([
        r.id,
        r.name,
        r.default_branch,
        r.remote_url,
        branches,
        changes,
        scan.shallow
    ])
    .to_string();
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Settles the local changes of `repo` whose branch is gone from every machine: merged when
/// their work landed on the base (a `git merge`, a squash by hand, a pull request merged on the
/// forge and pulled), so the runs that made them count as merged work; closed otherwise. One
/// that is also a pull request is then folded into it ([`Store::fold_local_changes`]), so the
/// change counts once whichever was seen first.
async fn settle_vanished(
    store: &Store,
    repo: &crate::model::Repo,
    clone: &str,
    open: &[String],
    now: i64,
) -> Result<()> {
    let gone = store.vanished_local_changes(&repo.id, clone, open).await?;
    if gone.is_empty() {
        return Ok(());
    }
    let mut merged = false;
    for c in gone {
        let landed = match &repo.path {
            Some(path) => {
                let (path, base, head) = (PathBuf::from(path), c.base.clone(), c.head_sha.clone());
                // A day of slack: the squash's clock need not agree with the branch's.
                let since = c.created_at - 86_400;
                tokio::task::spawn_blocking(move || git::landed(&path, &base, &head, since))
                    .await
                    .ok()
                    .and_then(|r| r.map_err(|e| tracing::warn!("{e}")).ok())
                    .flatten()
            }
            None => None,
        };
        match landed {
            Some(l) => {
                store
                    .settle_change(
                        &c.id,
                        crate::model::ChangeState::Merged,
                        Some(&c.head_sha),
                        l.at.min(now),
                    )
                    .await?;
                store.set_merge_sha(&c.id, &l.sha).await?;
                merged = true;
            }
            None => store.close_change(&c.id).await?,
        }
    }
    if merged {
        crate::store::cycle::measure(store, &repo.id).await?;
    }
    Ok(())
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
    let prices = PriceTable::with_overrides(&sources.prices);
    // Stored costs follow the price table: when it changed (a new build, the user's prices),
    // every usage record is priced again before new ones are added.
    if let Some(t) = sources.concentration_threshold {
        let t = t.to_string();
        if store
            .cursor("spend", "concentration_threshold")
            .await?
            .as_deref()
            != Some(&t)
        {
            store
                .set_cursor("spend", "concentration_threshold", &t, now)
                .await?;
        }
    }
    let stamp = crate::store::Stamp {
        prices: &prices,
        person: &sources.person,
    };
    let fingerprint = prices.fingerprint();
    if store.cursor("prices", "fingerprint").await?.as_deref() != Some(fingerprint.as_str()) {
        if store.reprice_usage(&prices).await? > 0 {
            store.rebuild_log_spend(&prices).await?;
        }
        store
            .set_cursor("prices", "fingerprint", &fingerprint, now)
            .await?;
    }
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
    if let Some(only) = &sources.only_log_files {
        files.retain(|(_, _, f)| only.contains(f));
    }
    let cursors = store.log_cursors().await?;
    let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
    let mut forgotten_days: BTreeSet<String> = BTreeSet::new();
    // Runs and the spend rollup are rebuilt after the batches commit. A pass killed in between
    // leaves the rollup "dirty", and the next pass rebuilds every run instead of only the ones
    // it touches.
    let mut dirty = store.cursor("logs", "rollup").await?.as_deref() == Some("dirty");
    let recovering = dirty;
    if dirty {
        touched.extend(store.log_sessions().await?);
    }

    // Reading and parsing run on a blocking thread while this task writes the previous batch:
    // on two cores the two halves overlap. The channel is short, so memory stays flat, and
    // batches are written in the order they were read, so a kill loses nothing committed.
    let total = files.len();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(2);
    let reader = tokio::task::spawn_blocking(move || read_files(files, cursors, hashes, tx));
    while let Some(msg) = rx.recv().await {
        if !dirty && matches!(msg, Msg::Forget { .. } | Msg::Batch { .. }) {
            // Marked before the first write only: an idle pass writes nothing.
            store.set_cursor("logs", "rollup", "dirty", now).await?;
            dirty = true;
        }
        match msg {
            Msg::Progress(done) => {
                if let Some(p) = progress {
                    p(Progress {
                        files_done: done,
                        files_total: total,
                        lines: report.lines,
                    });
                }
            }
            Msg::Problem(p) => report.problems.push(p),
            Msg::Unreadable(p) => {
                report.problems.push(p.clone());
                report.unreadable.push(p);
            }
            Msg::Forget { agent, path } => {
                // The days its usage was on lose it: they are re-aggregated below.
                forgotten_days.extend(store.days_of_file(&agent, &path).await?);
                let sessions = store.forget_log_file(&agent, &path).await?;
                touched.extend(sessions.into_iter().map(|s| (agent.clone(), s)));
            }
            Msg::File => report.files += 1,
            Msg::Batch {
                agent,
                path,
                batch,
                cursor,
                lines,
            } => {
                let others = store
                    .commit_log_batch(&agent, &path, &batch, &cursor, &stamp, now)
                    .await?;
                report.lines += lines;
                report.skipped_lines += batch.skipped.len() as i64;
                for (line_no, reason) in &batch.skipped {
                    if report.problems.len() < 50 {
                        report.problems.push(format!("{path}:{line_no}: {reason}"));
                    }
                }
                let sessions = others
                    .into_iter()
                    .chain(batch.sessions.into_keys())
                    .chain(batch.records.into_iter().map(|r| r.session_id));
                touched.extend(sessions.map(|s| (agent.clone(), s)));
            }
        }
    }
    reader.await.map_err(|e| crate::Error::Invalid {
        path: PathBuf::from("agent logs"),
        message: format!("reader task failed: {e}"),
    })?;
    if let Some(p) = progress {
        p(Progress {
            files_done: total,
            files_total: total,
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
    let touched: Vec<(String, String)> = touched.into_iter().collect();
    store.rebuild_runs(&touched, &repo_of, now).await?;
    if !touched.is_empty() {
        // Only the days those sessions have usage on are re-aggregated (a first ingest of
        // many sessions rebuilds everything in one pass instead).
        // After a pass that was stopped midway (`recovering`), every day: the days it forgot
        // usage on were not kept.
        if touched.len() > 2_000 || recovering {
            store.rebuild_log_spend(&prices).await?;
        } else {
            let mut days = store.days_of_sessions(&touched).await?;
            days.extend(forgotten_days);
            days.sort();
            days.dedup();
            store.rebuild_log_spend_days(&prices, Some(&days)).await?;
        }
        // New spend may cross a budget threshold (each fires once a month, in the store).
        crate::domain::budgets::check(store, now).await?;
    }
    if dirty {
        store.set_cursor("logs", "rollup", "clean", now).await?;
    }
    Ok(touched.len())
}

/// What the reading thread tells the writing task, in file order.
enum Msg {
    Progress(usize),
    /// A file read, but not yet understood (it is retried).
    Problem(String),
    /// A file that could not be read at all.
    Unreadable(String),
    /// The file was truncated, rotated or rewritten: forget what was read from it.
    Forget {
        agent: String,
        path: String,
    },
    /// A file with something new in it.
    File,
    Batch {
        agent: String,
        path: String,
        batch: Batch,
        cursor: tail::Cursor,
        lines: i64,
    },
}

/// The reading thread: plans each file against its cursor and sends its new lines parsed, in
/// batches. A file that cannot be read is reported and skipped; the others go on.
fn read_files(
    files: Vec<(Format, String, PathBuf)>,
    mut cursors: std::collections::HashMap<String, tail::Cursor>,
    hashes: Vec<(String, String)>,
    tx: tokio::sync::mpsc::Sender<Msg>,
) {
    let cwd_of_hash = |h: &str| {
        hashes
            .iter()
            .find(|(x, _)| x == h)
            .map(|(_, root)| root.clone())
    };
    for (i, (format, agent, file)) in files.into_iter().enumerate() {
        if tx.blocking_send(Msg::Progress(i)).is_err() {
            return; // the writer stopped (an error there ends the pass)
        }
        let stored = cursors.remove(&file.display().to_string());
        let sent = if format == Format::Gemini {
            read_whole_file(&agent, &file, stored, &cwd_of_hash, &tx)
        } else {
            read_file(format, &agent, &file, stored, &tx)
        };
        match sent {
            Ok(true) => {}
            Ok(false) => return,
            // Deleted between the listing and the read (an agent cleaning up): nothing to read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                if tx
                    .blocking_send(Msg::Unreadable(format!("{}: {e}", file.display())))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Sends the new complete lines of one file in batches. `Ok(false)`: the writer is gone.
fn read_file(
    format: Format,
    agent: &str,
    file: &Path,
    stored: Option<tail::Cursor>,
    tx: &tokio::sync::mpsc::Sender<Msg>,
) -> std::io::Result<bool> {
    let path = file.display().to_string();
    let mut cursor = match tail::plan(file, stored.as_ref())? {
        Plan::Unchanged => return Ok(true),
        Plan::Resume(c) => c,
        Plan::Restart { had_data } => {
            if had_data
                && tx
                    .blocking_send(Msg::Forget {
                        agent: agent.into(),
                        path: path.clone(),
                    })
                    .is_err()
            {
                return Ok(false);
            }
            tail::identify(file)?
        }
    };
    let mut parser: Box<dyn LineParser + Send> = match format {
        Format::Codex => Box::new(codex::Parser::new(file, cursor.state.as_deref())),
        Format::Claude => Box::new(claude::Parser::new(file)),
        // Gemini files are read whole by `read_whole_file` and never get here.
        Format::Gemini | Format::Generic => Box::new(generic::Parser::new(file)),
    };
    let mut reader = LineReader::open(file, cursor.offset, cursor.line_no)?;
    if tx.blocking_send(Msg::File).is_err() {
        return Ok(false);
    }
    loop {
        let mut batch = Batch::default();
        let mut n = 0;
        while n < BATCH_LINES {
            let Some((line_no, line)) = reader.next_line()? else {
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
        for (line_no, bytes) in reader.take_too_long() {
            n += 1;
            batch.skipped.push((
                line_no,
                format!(
                    "a line of {bytes} bytes, over the {} MiB a log line may have: not read",
                    tail::MAX_LINE_BYTES >> 20
                ),
            ));
        }
        if n == 0 {
            return Ok(true);
        }
        cursor.offset = reader.offset;
        cursor.line_no = reader.line_no;
        cursor.skipped += batch.skipped.len() as i64;
        cursor.state = Some(parser.state());
        if cursor.head_len < 1024 {
            // The file was shorter than the identity window when first seen.
            let fresh = tail::identify(file)?;
            cursor.head_len = fresh.head_len;
            cursor.head_hash = fresh.head_hash;
        }
        let msg = Msg::Batch {
            agent: agent.into(),
            path: path.clone(),
            batch,
            cursor: cursor.clone(),
            lines: n as i64,
        };
        if tx.blocking_send(msg).is_err() {
            return Ok(false);
        }
    }
}

/// Gemini CLI rewrites its session file whole on every update: a changed file is forgotten and
/// read again in full. A file caught mid-rewrite (invalid JSON) is left for the next pass.
fn read_whole_file(
    agent: &str,
    file: &Path,
    stored: Option<tail::Cursor>,
    cwd_of_hash: &dyn Fn(&str) -> Option<String>,
    tx: &tokio::sync::mpsc::Sender<Msg>,
) -> std::io::Result<bool> {
    let path = file.display().to_string();
    if tail::plan(file, stored.as_ref())? == Plan::Unchanged {
        return Ok(true);
    }
    let mut cursor = tail::identify(file)?;
    let (batch, read, replaces) = match gemini::read_session(file)? {
        Ok(text) => match gemini::parse(file, &text, cwd_of_hash, false) {
            Ok(b) => (b, text.len() as i64, true),
            Err(reason) => {
                return Ok(tx
                    .blocking_send(Msg::Problem(format!("{path}: {reason} (will retry)")))
                    .is_ok());
            }
        },
        // Too big to hold: reported as its one unread line and passed over until it changes;
        // what an earlier, smaller copy of the session counted stays.
        Err(reason) => {
            let mut batch = Batch::default();
            batch.skipped.push((1, reason));
            (batch, std::fs::metadata(file)?.len() as i64, false)
        }
    };
    cursor.offset = read;
    cursor.line_no = batch.records.len() as i64;
    let mut msgs = Vec::new();
    if stored.is_some() && replaces {
        msgs.push(Msg::Forget {
            agent: agent.into(),
            path: path.clone(),
        });
    }
    msgs.push(Msg::File);
    msgs.push(Msg::Batch {
        agent: agent.into(),
        path,
        batch,
        cursor,
        lines: 0,
    });
    Ok(msgs.into_iter().all(|m| tx.blocking_send(m).is_ok()))
}
