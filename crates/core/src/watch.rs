//! Live sources: watches the repos' `.git` (HEAD, packed-refs, refs/, worktrees/) and the agent
//! log folders with notify, debounces bursts (a commit touches several files, an agent appends
//! many lines), and runs an incremental ingest of just what changed. Ingest publishes the change
//! on the event bus, which reaches `/api/events` and the desktop window.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::events::EventBus;
use crate::ingest::{self, Sources};
use crate::store::Store;

/// Quiet time after the last file event before ingesting: long enough to catch a commit's
/// several writes in one pass, short enough to stay well under the 300 ms latency goal.
pub const DEBOUNCE: Duration = Duration::from_millis(75);

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchHandle {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
    /// Paths that could not be watched, with the reason.
    pub problems: Vec<String>,
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

pub fn spawn(store: Store, bus: EventBus, sources: Sources) -> notify::Result<WatchHandle> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            for p in ev.paths {
                let _ = tx.send(p);
            }
        }
    })?;
    let mut problems = Vec::new();
    let mut watch = |path: &Path, mode: RecursiveMode, problems: &mut Vec<String>| {
        if path.exists() {
            if let Err(e) = watcher.watch(path, mode) {
                problems.push(format!("{}: {e}", path.display()));
            }
        }
    };
    let mut git_dirs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for repo in &sources.repos {
        let Some(gd) = git_dir(repo) else {
            problems.push(format!("{}: not a git repository", repo.display()));
            continue;
        };
        // HEAD and packed-refs live in .git itself; refs/ and worktrees/ below it. Objects are
        // left out: they change with every commit but say nothing refs do not.
        watch(&gd, RecursiveMode::NonRecursive, &mut problems);
        watch(&gd.join("refs"), RecursiveMode::Recursive, &mut problems);
        watch(
            &gd.join("worktrees"),
            RecursiveMode::Recursive,
            &mut problems,
        );
        git_dirs.push((gd, repo.clone()));
    }
    let mut log_roots = Vec::new();
    for d in &sources.claude_dirs {
        let projects = if d.ends_with("projects") {
            d.clone()
        } else {
            d.join("projects")
        };
        watch(&projects, RecursiveMode::Recursive, &mut problems);
        log_roots.push(projects);
    }
    for h in &sources.codex_homes {
        for sub in ["sessions", "archived_sessions"] {
            watch(&h.join(sub), RecursiveMode::Recursive, &mut problems);
            log_roots.push(h.join(sub));
        }
    }
    let classify = move |p: &Path| -> Option<Change> {
        if p.extension().is_some_and(|x| x == "jsonl") && log_roots.iter().any(|r| p.starts_with(r))
        {
            return Some(Change::Log(p.to_path_buf()));
        }
        git_dirs
            .iter()
            .find(|(gd, _)| p.starts_with(gd))
            .map(|(_, repo)| Change::Repo(repo.clone()))
    };
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut changes: BTreeSet<Change> = classify(&first).into_iter().collect();
            // Debounce: keep collecting until the folder has been quiet for DEBOUNCE.
            while let Ok(Some(p)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                changes.extend(classify(&p));
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
                    Change::Repo(r) => pass.repos.push(r),
                    Change::Log(f) => pass.only_log_files.get_or_insert_with(Vec::new).push(f),
                }
            }
            let now = chrono::Utc::now().timestamp();
            if let Err(e) = ingest::run(&store, &pass, Some(&bus), now).await {
                tracing::warn!("live ingest failed: {e}");
            }
        }
    });
    Ok(WatchHandle {
        _watcher: watcher,
        task,
        problems,
    })
}
