//! Live sources: watches the repos' `.git` (HEAD, packed-refs, refs/, worktrees/) and the agent
//! log folders with notify, debounces bursts (a commit touches several files, an agent appends
//! many lines), and runs an incremental ingest of just what changed. Ingest publishes the change
//! on the event bus, which reaches `/api/events` and the desktop window.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::domain::ingest::{self, Sources};
use crate::model::events::EventBus;
use crate::store::Store;

/// Quiet time after the last file event before ingesting: long enough to catch a commit's
/// several writes in one pass, short enough to stay well under the 300 ms latency goal.
pub const DEBOUNCE: Duration = Duration::from_millis(75);

/// Keeps the watcher alive (its task owns it); dropping it stops watching.
pub struct WatchHandle {
    task: tokio::task::JoinHandle<()>,
    /// Paths that could not be watched, with the reason.
    pub problems: Vec<String>,
    passes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl WatchHandle {
    /// How many ingest passes file events have started so far.
    pub fn passes(&self) -> u64 {
        self.passes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a changed path means for ingest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    Repo(PathBuf),
    Log(PathBuf),
}

/// The `.git` directory of a work tree (a linked worktree's `.git` file is followed by git2).
fn git_dir(repo: &Path) -> Option<PathBuf> {
    git2::Repository::open(repo)
        .ok()
        .map(|r| r.path().to_path_buf())
}

/// How often the watcher looks for repos added with `flightdeck repo add` since it started.
pub const REPO_POLL: Duration = Duration::from_secs(2);

/// The watcher and what its paths mean.
struct Watched {
    watcher: notify::RecommendedWatcher,
    /// (.git directory, work tree) of each watched repo.
    git_dirs: Vec<(PathBuf, PathBuf)>,
    /// Work trees watched, canonical, to recognise a repo added twice.
    repos: BTreeSet<PathBuf>,
    log_roots: Vec<PathBuf>,
}

impl Watched {
    fn watch(&mut self, path: &Path, mode: RecursiveMode, problems: &mut Vec<String>) {
        if path.exists() {
            if let Err(e) = self.watcher.watch(path, mode) {
                problems.push(format!("{}: {e}", path.display()));
            }
        }
    }

    /// Starts watching a repo's refs; false when it was watched already or is not a repo.
    fn add_repo(&mut self, repo: &Path, problems: &mut Vec<String>) -> bool {
        let canonical = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
        if self.repos.contains(&canonical) {
            return false;
        }
        let Some(gd) = git_dir(repo) else {
            problems.push(format!("{}: not a git repository", repo.display()));
            return false;
        };
        // HEAD and packed-refs live in .git itself; refs/ and worktrees/ below it. Objects are
        // left out: they change with every commit but say nothing refs do not.
        self.watch(&gd, RecursiveMode::NonRecursive, problems);
        self.watch(&gd.join("refs"), RecursiveMode::Recursive, problems);
        self.watch(&gd.join("worktrees"), RecursiveMode::Recursive, problems);
        self.git_dirs.push((gd, repo.to_path_buf()));
        self.repos.insert(canonical);
        true
    }

    fn classify(&self, p: &Path) -> Option<Change> {
        if p.extension().is_some_and(|x| x == "jsonl")
            && self.log_roots.iter().any(|r| p.starts_with(r))
        {
            return Some(Change::Log(p.to_path_buf()));
        }
        self.git_dirs
            .iter()
            .find(|(gd, _)| p.strip_prefix(gd).is_ok_and(names_refs))
            .map(|(_, repo)| Change::Repo(repo.clone()))
    }
}

/// Whether a path inside `.git` can move a branch head: HEAD, packed-refs, refs/, a linked
/// worktree coming or going or its HEAD, the shallow boundary. The index (the main one or a
/// worktree's), FETCH_HEAD, logs and the rest change with every `git status` an editor or an
/// agent runs and say nothing the scan reads.
fn names_refs(rel: &Path) -> bool {
    let parts: Vec<&std::ffi::OsStr> = rel.components().map(|c| c.as_os_str()).collect();
    match parts.as_slice() {
        [first, ..] if *first == "HEAD" || *first == "packed-refs" || *first == "shallow" => true,
        [first, ..] if *first == "refs" => true,
        // `worktrees` appearing (the first worktree), `worktrees/<name>` itself (added,
        // removed) and `worktrees/<name>/HEAD`.
        [first] if *first == "worktrees" => true,
        [first, _] if *first == "worktrees" => true,
        [first, _, head] if *first == "worktrees" => *head == "HEAD",
        _ => false,
    }
}

/// Whether a file event is a change. notify reports opens and reads too (inotify's IN_OPEN):
/// counted as changes, the scan's own reads of `.git` would start the next scan, forever.
fn is_change(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    use notify::EventKind;
    match kind {
        // `Any`: a backend that cannot tell (the polling watcher).
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
    }
}

pub fn spawn(store: Store, bus: EventBus, sources: Sources) -> notify::Result<WatchHandle> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if is_change(&ev.kind) {
            for p in ev.paths {
                let _ = tx.send(p);
            }
        }
    })?;
    let mut w = Watched {
        watcher,
        git_dirs: Vec::new(),
        repos: BTreeSet::new(),
        log_roots: Vec::new(),
    };
    let mut problems = Vec::new();
    for repo in &sources.repos {
        w.add_repo(repo, &mut problems);
    }
    for d in &sources.claude_dirs {
        let projects = if d.ends_with("projects") {
            d.clone()
        } else {
            d.join("projects")
        };
        w.watch(&projects, RecursiveMode::Recursive, &mut problems);
        w.log_roots.push(projects);
    }
    for h in &sources.codex_homes {
        for sub in ["sessions", "archived_sessions"] {
            w.watch(&h.join(sub), RecursiveMode::Recursive, &mut problems);
            w.log_roots.push(h.join(sub));
        }
    }
    let passes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = passes.clone();
    let task = tokio::spawn(async move {
        let mut poll = tokio::time::interval(REPO_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let mut changes = BTreeSet::new();
            tokio::select! {
                first = rx.recv() => {
                    let Some(first) = first else { return };
                    changes.extend(w.classify(&first));
                    // Debounce: keep collecting until the folder has been quiet for DEBOUNCE.
                    while let Ok(Some(p)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                        changes.extend(w.classify(&p));
                    }
                }
                _ = poll.tick() => {
                    // A repo added while we run: watch it from now on, and read it at once.
                    let added = store.watched_repos().await.unwrap_or_default();
                    for repo in added.iter().map(PathBuf::from) {
                        let mut problems = Vec::new();
                        if w.add_repo(&repo, &mut problems) {
                            changes.insert(Change::Repo(repo));
                        }
                        for p in problems {
                            tracing::warn!("not watching {p}");
                        }
                    }
                }
            }
            if changes.is_empty() {
                continue;
            }
            let mut pass = Sources {
                repos: Vec::new(),
                only_log_files: Some(Vec::new()),
                ..sources.clone()
            };
            for c in changes {
                match c {
                    Change::Repo(r) => {
                        // git makes `worktrees/` with the first worktree and deletes it with
                        // the last, which drops its watch: watch it again once it is there.
                        let gd = w
                            .git_dirs
                            .iter()
                            .find(|(_, repo)| *repo == r)
                            .map(|(g, _)| g.join("worktrees"));
                        if let Some(wt) = gd {
                            w.watch(&wt, RecursiveMode::Recursive, &mut Vec::new());
                        }
                        pass.repos.push(r)
                    }
                    Change::Log(f) => pass.only_log_files.get_or_insert_with(Vec::new).push(f),
                }
            }
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let now = chrono::Utc::now().timestamp();
            if let Err(e) = ingest::run(&store, &pass, Some(&bus), now).await {
                tracing::warn!("live ingest failed: {e}");
            }
        }
    });
    Ok(WatchHandle {
        task,
        problems,
        passes,
    })
}
