//! The git source: reads one repository with git2 — its branches (ahead/behind the default
//! branch, agent or human), linked worktrees, commits with diffstats and agent attribution, and
//! the local change requests (agent branches ahead of the base).
//!
//! Incremental: the caller passes the branch heads it saw last time; every commit reachable from
//! them is hidden from the walk, so a re-scan reads only new commits. A force-pushed or deleted
//! branch needs no special case: the branch set is replaced, and old heads that no longer exist
//! are simply not hidden.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository, Sort};

use crate::model::error::{Error, Result};
use crate::model::repo_id;
use crate::model::{Author, Branch, ChangeKind, ChangeRequest, Commit, Mergeable, Repo};
use crate::sources::diffstat::{DiffStat, Differ};
use crate::sources::{agent_for_branch, agent_for_identity};

/// Everything one scan of a repository found.
#[derive(Debug, Clone)]
pub struct RepoScan {
    pub repo: Repo,
    pub branches: Vec<Branch>,
    /// New commits only (not reachable from `known_heads`); empty from [`scan_batched`], which
    /// hands them to its sink instead.
    pub commits: Vec<Commit>,
    /// How many new commits were read (`commits.len()` from [`scan`]).
    pub new_commits: usize,
    pub changes: Vec<ChangeRequest>,
    /// Paths of the linked worktrees, so agent logs from them map to this repo.
    pub worktrees: Vec<PathBuf>,
    /// Every branch head, for the next incremental scan.
    pub heads: Vec<String>,
    /// A shallow clone's boundary commits (sorted): the commits whose parents are not here.
    pub shallow: Vec<String>,
}

/// Commits per batch handed to a [`scan_batched`] sink: a first scan of a long history is
/// written as it is read, so memory does not grow with the history (a million commits held at
/// once took 2.3 GB).
pub const BATCH: usize = 5_000;

/// Scans the repository at `path`, keeping its new commits in [`RepoScan::commits`].
pub fn scan(path: &Path, known_heads: &[String], now: i64) -> Result<RepoScan> {
    let mut commits = Vec::new();
    let mut scan = scan_batched(path, known_heads, now, &mut |batch| {
        commits.extend(batch);
        Ok(())
    })?;
    scan.commits = commits;
    Ok(scan)
}

/// Scans the repository at `path`, handing its new commits to `sink` in batches of at most
/// [`BATCH`], newest first, as they are read. An error from the sink stops the scan and is
/// returned.
pub fn scan_batched(
    path: &Path,
    known_heads: &[String],
    now: i64,
    sink: &mut dyn FnMut(Vec<Commit>) -> Result<()>,
) -> Result<RepoScan> {
    libgit2_for_reading();
    let git = |e| Error::git(path, e);
    let repo = Repository::open(path).map_err(|e| moved_worktree(path).unwrap_or(git(e)))?;
    let workdir = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| path.to_path_buf());
    let workdir = workdir.canonicalize().unwrap_or(workdir);
    let clone_path = trim_slash(&workdir.display().to_string());
    let name = workdir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| clone_path.clone());

    let default_branch = ["main", "master", "trunk"]
        .into_iter()
        .find(|b| repo.find_branch(b, BranchType::Local).is_ok())
        .map(str::to_string)
        .or_else(|| {
            repo.head()
                .ok()
                .and_then(|h| h.shorthand().map(str::to_string))
        })
        .unwrap_or_else(|| "main".into());
    let default_oid = repo
        .find_branch(&default_branch, BranchType::Local)
        .ok()
        .and_then(|b| b.get().target());
    let remote_url = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().map(str::to_string));
    let repo_key = identity(&repo, remote_url.as_deref(), default_oid, &clone_path);

    // Linked worktrees and the branch each has checked out.
    let mut worktree_of_branch = HashMap::new();
    let mut worktrees = Vec::new();
    if let Ok(names) = repo.worktrees() {
        for wt_name in names.iter().flatten() {
            let Ok(wt) = repo.find_worktree(wt_name) else {
                continue;
            };
            let wt_path = wt.path().to_path_buf();
            let wt_path = wt_path.canonicalize().unwrap_or(wt_path);
            if let Ok(wt_repo) = Repository::open(&wt_path) {
                if let Ok(head) = wt_repo.head() {
                    if let Some(b) = head.shorthand() {
                        worktree_of_branch
                            .insert(b.to_string(), trim_slash(&wt_path.display().to_string()));
                    }
                }
            }
            worktrees.push(wt_path);
        }
    }

    let mut branches = Vec::new();
    let mut heads = Vec::new();
    for item in repo.branches(Some(BranchType::Local)).map_err(git)? {
        let (b, _) = item.map_err(git)?;
        let Some(bname) = b.name().map_err(git)?.map(str::to_string) else {
            continue;
        };
        let Some(oid) = b.get().target() else {
            continue;
        };
        let (ahead, behind) = match default_oid {
            Some(base) if base != oid => repo.graph_ahead_behind(oid, base).map_err(git)?,
            _ => (0, 0),
        };
        let head_time = repo
            .find_commit(oid)
            .map(|c| c.time().seconds())
            .unwrap_or(now);
        heads.push(oid.to_string());
        branches.push(Branch {
            repo: repo_key.clone(),
            agent: agent_for_branch(&bname).map(str::to_string),
            worktree_path: worktree_of_branch.get(&bname).cloned(),
            name: bname,
            head_sha: oid.to_string(),
            ahead: ahead as i64,
            behind: behind as i64,
            updated_at: head_time,
        });
    }

    // Commits only on an agent branch (not on the default branch) belong to that agent.
    let mut branch_agent_of: HashMap<Oid, String> = HashMap::new();
    for b in &branches {
        let (Some(agent), Some(base)) = (&b.agent, default_oid) else {
            continue;
        };
        let mut walk = repo.revwalk().map_err(git)?;
        walk.push(Oid::from_str(&b.head_sha).map_err(git)?)
            .map_err(git)?;
        walk.hide(base).map_err(git)?;
        for oid in walk {
            branch_agent_of.insert(oid.map_err(git)?, agent.clone());
        }
    }

    let mut walk = repo.revwalk().map_err(git)?;
    walk.set_sorting(Sort::TIME).map_err(git)?;
    for b in &branches {
        walk.push(Oid::from_str(&b.head_sha).map_err(git)?)
            .map_err(git)?;
    }
    for known in known_heads {
        // A head that vanished (force-push, gc) cannot be hidden; its commits were stored
        // already, and anything still reachable is upserted again harmlessly.
        if let Ok(oid) = Oid::from_str(known) {
            if repo.find_commit(oid).is_ok() {
                walk.hide(oid).map_err(git)?;
            }
        }
    }
    let shallow = shallow_boundary(&repo);
    let new_commits = read_commits(&repo, walk, &repo_key, &branch_agent_of, &shallow, sink)
        .map_err(|e| match e {
            Read::Git(e) => git(e),
            Read::Sink(e) => e,
        })?;

    let mut changes = Vec::new();
    if let Some(base) = default_oid {
        for b in branches.iter().filter(|b| b.agent.is_some() && b.ahead > 0) {
            changes.push(local_change(&repo, &repo_key, &default_branch, base, b).map_err(git)?);
        }
    }

    Ok(RepoScan {
        repo: Repo {
            id: repo_key,
            path: Some(clone_path),
            name,
            default_branch,
            remote_url,
            last_scanned_at: Some(now),
        },
        branches,
        commits: Vec::new(),
        new_commits,
        changes,
        worktrees,
        heads,
        shallow: {
            let mut s: Vec<String> = shallow.iter().map(Oid::to_string).collect();
            s.sort();
            s
        },
    })
}

/// libgit2's process-wide settings for a reader of long histories, set once:
/// - no re-hashing of every object read (SHA-1 with collision detection was a third of a full
///   scan; git itself does not on reads, and Flightdeck only reads);
/// - no object cache: the scan keeps the trees and blobs it needs itself (`Differ`), and over a
///   million commits libgit2's cache of parsed commits took about 850 MB;
/// - pack files mapped in 64 MiB windows, at most 256 MiB at once (libgit2 maps up to 8 GiB on
///   64-bit, so a scan's memory grew with the pack: 817 MB for a million commits).
///
/// Measured on the 1M-commit repository of `scripts/bench.sh`: peak RSS 2,023 MB before,
/// 466 MB after (docs/benchmarks.md).
///
/// The front ends call it first thing in `main`, before any thread starts (libgit2's options
/// are plain globals); a scan calls it too, for other callers, and then it does nothing.
pub fn libgit2_for_reading() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::enable_caching(false);
        // SAFETY: set once per process (the `Once`), by the front ends before any other
        // thread exists; each option is one aligned word libgit2 reads when it maps a window.
        unsafe {
            let _ = git2::opts::set_mwindow_size(64 << 20);
            let _ = git2::opts::set_mwindow_mapped_limit(256 << 20);
        }
    });
}

/// Where a branch's work landed on its base: the commit that brought it (a merge, the head
/// itself after a fast-forward, or a squash of it) and that commit's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub sha: String,
    pub at: i64,
}

/// How far back along the base a squash is looked for: commits made before the branch began are
/// skipped by time, and at most this many are diffed.
const SQUASH_SEARCH: usize = 2_000;

/// Whether the work of a branch whose head was `head` (the branch itself may be deleted) landed
/// on `base` (the local branch or `origin`'s, whichever has it): its head is on the base
/// (`git merge`, a fast-forward, a pull request merged with a merge commit and pulled), or a
/// base commit since `since` makes exactly the branch's change (a squash by hand or on the
/// forge, compared by patch id). `None` when neither holds or the head's commit is gone.
pub fn landed(path: &Path, base: &str, head: &str, since: i64) -> Result<Option<Landed>> {
    let git = |e| Error::git(path, e);
    let repo = Repository::open(path).map_err(git)?;
    let Ok(head) = Oid::from_str(head) else {
        return Ok(None);
    };
    if repo.find_commit(head).is_err() {
        return Ok(None);
    }
    let tips: Vec<Oid> = [
        format!("refs/heads/{base}"),
        format!("refs/remotes/origin/{base}"),
    ]
    .iter()
    .filter_map(|r| repo.refname_to_id(r).ok())
    .collect();
    for &tip in &tips {
        if tip != head && !repo.graph_descendant_of(tip, head).map_err(git)? {
            continue;
        }
        // The oldest commit along the base's first parents that contains the head: the merge
        // commit, or the head itself when it was fast-forwarded.
        let mut landing = tip;
        let mut walk = repo.revwalk().map_err(git)?;
        walk.simplify_first_parent().map_err(git)?;
        walk.push(tip).map_err(git)?;
        for oid in walk {
            let oid = oid.map_err(git)?;
            if oid == head || repo.graph_descendant_of(oid, head).map_err(git)? {
                landing = oid;
            } else {
                break;
            }
        }
        let at = repo.find_commit(landing).map_err(git)?.time().seconds();
        return Ok(Some(Landed {
            sha: landing.to_string(),
            at,
        }));
    }
    // A squash: one base commit whose own diff is the branch's whole diff.
    let Some(&tip) = tips.first() else {
        return Ok(None);
    };
    let fork = repo.merge_base(tip, head).map_err(git)?;
    // A branch that changes nothing (an empty commit to re-run CI) matches any empty commit:
    // nothing to recognise a squash by.
    let tree = |oid| repo.find_commit(oid).map(|c| c.tree_id()).map_err(git);
    if tree(fork)? == tree(head)? {
        return Ok(None);
    }
    let want = patch_id(&repo, fork, head).map_err(git)?;
    let mut walk = repo.revwalk().map_err(git)?;
    walk.simplify_first_parent().map_err(git)?;
    for &t in &tips {
        walk.push(t).map_err(git)?;
    }
    for oid in walk.take(SQUASH_SEARCH) {
        let oid = oid.map_err(git)?;
        let c = repo.find_commit(oid).map_err(git)?;
        if c.time().seconds() < since {
            break;
        }
        if oid == fork || c.parent_count() != 1 {
            continue;
        }
        if patch_id(&repo, c.parent_id(0).map_err(git)?, oid).map_err(git)? == want {
            return Ok(Some(Landed {
                sha: oid.to_string(),
                at: c.time().seconds(),
            }));
        }
    }
    Ok(None)
}

/// git's stable patch id of the change from commit `from` to commit `to`: the same for the same
/// edits wherever they are applied.
fn patch_id(repo: &Repository, from: Oid, to: Oid) -> Result<Oid, git2::Error> {
    let a = repo.find_commit(from)?.tree()?;
    let b = repo.find_commit(to)?.tree()?;
    repo.diff_tree_to_tree(Some(&a), Some(&b), None)?
        .patchid(None)
}

/// The repo's identity (see `model::repo_id`): its origin's normalised URL, else its root commit
/// (the end of the default branch's first-parent chain), else, for a repo with neither, the
/// clone's own directory.
fn identity(repo: &Repository, remote: Option<&str>, tip: Option<Oid>, clone: &str) -> String {
    if let Some(id) = remote.and_then(repo_id::from_remote) {
        return id;
    }
    let tip = tip.or_else(|| repo.head().ok().and_then(|h| h.target()));
    let root = tip.and_then(|tip| {
        let mut walk = repo.revwalk().ok()?;
        walk.simplify_first_parent().ok()?;
        walk.push(tip).ok()?;
        walk.filter_map(|o| o.ok()).last()
    });
    match root {
        Some(root) => repo_id::from_root(&root.to_string()),
        None => format!("file://{}", clone.trim_start_matches('/')),
    }
}

/// The identity of the repository at `path`, or why it cannot be read.
pub fn identity_of(path: &Path) -> Result<String> {
    let repo = Repository::open(path).map_err(|e| Error::git(path, e))?;
    let remote = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().map(str::to_string));
    let tip = ["main", "master", "trunk"]
        .into_iter()
        .find_map(|b| repo.find_branch(b, BranchType::Local).ok())
        .and_then(|b| b.get().target());
    Ok(identity(
        &repo,
        remote.as_deref(),
        tip,
        &trim_slash(&path.display().to_string()),
    ))
}

/// The earliest author time among the commits of `head` not on local branch `base`, when the
/// clone at `path` has them (a pull request's branch pushed from here).
pub fn first_commit_time(path: &Path, head: &str, base: &str) -> Option<i64> {
    let repo = Repository::open(path).ok()?;
    let head = repo.find_commit(Oid::from_str(head).ok()?).ok()?.id();
    let base = repo
        .find_branch(base, BranchType::Local)
        .ok()?
        .get()
        .target()?;
    let mut walk = repo.revwalk().ok()?;
    walk.push(head).ok()?;
    walk.hide(base).ok()?;
    walk.filter_map(Result::ok)
        .filter_map(|oid| repo.find_commit(oid).ok())
        .map(|c| c.author().when().seconds())
        .min()
}

fn trim_slash(s: &str) -> String {
    s.trim_end_matches('/').to_string()
}

/// The agent named by a `Co-Authored-By:` trailer, if any.
fn trailer_agent(message: &str) -> Option<&'static str> {
    message.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if key.trim().eq_ignore_ascii_case("co-authored-by") {
            agent_for_identity(value.trim())
        } else {
            None
        }
    })
}

/// The commits a shallow clone was cut at (`shallow` in the common git dir): their parents are
/// not here, so libgit2 shows them as root commits.
fn shallow_boundary(repo: &Repository) -> HashSet<Oid> {
    std::fs::read_to_string(repo.commondir().join("shallow"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Oid::from_str(l.trim()).ok())
        .collect()
}

/// For a linked worktree whose `.git` file names a git dir that is gone (its main checkout was
/// moved), an error that says so and how to fix it.
fn moved_worktree(path: &Path) -> Option<Error> {
    let text = std::fs::read_to_string(path.join(".git")).ok()?;
    let gitdir = text.trim().strip_prefix("gitdir:")?.trim();
    let gitdir = path.join(gitdir);
    if gitdir.exists() {
        return None;
    }
    let message = if gitdir.components().any(|c| c.as_os_str() == "worktrees") {
        format!(
            "a linked worktree whose main checkout moved ({} is gone): run `git worktree repair {}` \
             in the main checkout where it is now",
            gitdir.display(),
            path.display()
        )
    } else {
        format!(
            "its .git file names {}, which is gone (a submodule whose parent moved?)",
            gitdir.display()
        )
    };
    Some(Error::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

/// Why reading commits stopped: git failed, or the sink refused a batch.
enum Read {
    Git(git2::Error),
    Sink(Error),
}

/// Reads the commits `walk` yields, handing them to `sink` in batches of [`BATCH`]; returns how
/// many were read. One thread: libgit2 serialises pack access behind a global lock, and two
/// readers measured slower than one.
fn read_commits(
    repo: &Repository,
    walk: git2::Revwalk<'_>,
    repo_key: &str,
    branch_agent_of: &HashMap<Oid, String>,
    shallow: &HashSet<Oid>,
    sink: &mut dyn FnMut(Vec<Commit>) -> Result<()>,
) -> Result<usize, Read> {
    let odb = repo.odb().map_err(Read::Git)?;
    let mut differ = Differ::new(&odb);
    let mut batch = Vec::new();
    let mut read = 0;
    for oid in walk {
        let oid = oid.map_err(Read::Git)?;
        let cut = shallow.contains(&oid);
        batch.push(
            commit_row(repo, &mut differ, oid, repo_key, branch_agent_of, cut)
                .map_err(Read::Git)?,
        );
        read += 1;
        if batch.len() == BATCH {
            sink(std::mem::take(&mut batch)).map_err(Read::Sink)?;
        }
    }
    if !batch.is_empty() {
        sink(batch).map_err(Read::Sink)?;
    }
    Ok(read)
}

/// The diffstat of commit `c` against its first parent, as `git log --numstat --first-parent`
/// counts a merge. `None` (unknown) when a parent is not here (`cut`: a shallow clone's
/// boundary) or a tree or blob is not (a partial clone, a lost object): diffing against nothing
/// would count every file as added.
fn stat_of(
    repo: &Repository,
    differ: &mut Differ,
    c: &git2::Commit,
    cut: bool,
) -> Option<DiffStat> {
    let parent_tree = match c.parent_id(0) {
        _ if cut => return None,
        Err(_) => None,
        Ok(p) => Some(repo.find_commit(p).ok()?.tree_id()),
    };
    differ.between(parent_tree, c.tree_id()).ok()
}

/// The shallow boundary of the repo at `path` (sorted; empty for a whole clone or no repo).
pub fn shallow_of(path: &Path) -> Vec<String> {
    let Ok(repo) = Repository::open(path) else {
        return Vec::new();
    };
    let mut s: Vec<String> = shallow_boundary(&repo).iter().map(Oid::to_string).collect();
    s.sort();
    s
}

/// The diffstats among `shas` that can be computed now, for commits stored with theirs unknown
/// (their objects arrived since: an unshallowed or refetched clone).
pub fn diffstats(path: &Path, shas: &[String]) -> Result<Vec<(String, DiffStat)>> {
    let git = |e| Error::git(path, e);
    let repo = Repository::open(path).map_err(git)?;
    let shallow = shallow_boundary(&repo);
    let odb = repo.odb().map_err(git)?;
    let mut differ = Differ::new(&odb);
    Ok(shas
        .iter()
        .filter_map(|sha| {
            let oid = Oid::from_str(sha).ok()?;
            let c = repo.find_commit(oid).ok()?;
            let stat = stat_of(&repo, &mut differ, &c, shallow.contains(&oid))?;
            Some((sha.clone(), stat))
        })
        .collect())
}

/// `cut`: a shallow clone's boundary commit, whose parent is not here.
fn commit_row(
    repo: &Repository,
    differ: &mut Differ,
    oid: Oid,
    repo_key: &str,
    branch_agent_of: &HashMap<Oid, String>,
    cut: bool,
) -> Result<Commit, git2::Error> {
    let c = repo.find_commit(oid)?;
    let author = c.author();
    let author_name = author.name().unwrap_or("").to_string();
    let author_email = author.email().unwrap_or("").to_string();
    let message = c.message().unwrap_or("");
    let agent = trailer_agent(message)
        .or_else(|| agent_for_identity(&format!("{author_name} <{author_email}>")))
        .map(str::to_string)
        .or_else(|| branch_agent_of.get(&oid).cloned());
    let stat = stat_of(repo, differ, &c, cut);
    Ok(Commit {
        repo: repo_key.to_string(),
        sha: oid.to_string(),
        author_name,
        author_email,
        authored_at: author.when().seconds(),
        committed_at: c.time().seconds(),
        summary: c.summary().unwrap_or("").to_string(),
        agent,
        files_changed: stat.map(|s| s.files_changed),
        insertions: stat.map(|s| s.insertions),
        deletions: stat.map(|s| s.deletions),
    })
}

fn local_change(
    repo: &Repository,
    repo_key: &str,
    base_name: &str,
    base: Oid,
    b: &Branch,
) -> Result<ChangeRequest, git2::Error> {
    let head = Oid::from_str(&b.head_sha)?;
    // None when the history joining them is not here (a shallow clone).
    let merge_base = repo.merge_base(head, base).ok();
    // Unknown when the trees or blobs are not here (a partial clone), as for commits.
    let stats = merge_base.and_then(|mb| {
        let old = repo.find_commit(mb).ok()?.tree_id();
        let new = repo.find_commit(head).ok()?.tree_id();
        Differ::new(&repo.odb().ok()?).between(Some(old), new).ok()
    });
    // Title from the branch's first commit, as a PR would take it.
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    walk.push(head)?;
    walk.hide(base)?;
    let mut seen = HashSet::new();
    let mut first: Option<(String, i64)> = None;
    let mut first_at = i64::MAX;
    for oid in walk {
        let oid = oid?;
        if seen.insert(oid) {
            let c = repo.find_commit(oid)?;
            first_at = first_at.min(c.author().when().seconds());
            if first.is_none() {
                first = Some((c.summary().unwrap_or("").to_string(), c.time().seconds()));
            }
        }
    }
    let (title, created_at) = first.unwrap_or_else(|| (b.name.clone(), b.updated_at));
    // Whether it would merge without conflicts now (an in-memory merge; nothing is written).
    // Unknown when the objects to merge are not here.
    let mergeable = match merge_base {
        None => None,
        Some(mb) if mb == base => Some(Mergeable::Clean),
        Some(_) => repo
            .merge_commits(&repo.find_commit(base)?, &repo.find_commit(head)?, None)
            .ok()
            .map(|index| {
                if index.has_conflicts() {
                    Mergeable::Conflicts
                } else {
                    Mergeable::Clean
                }
            }),
    };
    Ok(ChangeRequest {
        id: format!("local:{repo_key}:{}", b.name),
        kind: ChangeKind::Local,
        repo: repo_key.to_string(),
        title,
        head: b.name.clone(),
        base: base_name.to_string(),
        head_sha: b.head_sha.clone(),
        author: Author::Agent {
            agent: b.agent.clone().unwrap_or_default(),
        },
        state: crate::model::ChangeState::Open,
        created_at,
        updated_at: b.updated_at,
        commits: b.ahead,
        files_changed: stats.map(|s| s.files_changed),
        insertions: stats.map(|s| s.insertions),
        deletions: stats.map(|s| s.deletions),
        agent_cost_usd: 0.0,
        labels: vec![],
        requested_reviewers: vec![],
        mergeable,
        merged_at: None,
        first_commit_at: (first_at != i64::MAX).then_some(first_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_name_the_agent() {
        let msg = "Add rate limit\n\nBody.\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n";
        assert_eq!(trailer_agent(msg), Some("claude-code"));
        assert_eq!(trailer_agent("Fix\n\nSigned-off-by: Bob <b@x>"), None);
    }
}
