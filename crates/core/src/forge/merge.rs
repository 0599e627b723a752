//! Merging a local agent branch into its base with git2, the way a careful person would by
//! hand: only the commit the lead reviewed, fast-forward when possible, a merge commit (or one
//! squashed commit, or the branch's commits replayed on the base) otherwise, refused — with nothing changed — on conflicts, on a dirty work
//! tree where the base is checked out, or when the branch moved since review. The merged branch
//! is never deleted.

use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;
use git2::{BranchType, Oid, Repository, Signature, Status, StatusOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    /// Fast-forward when the base has not moved, a merge commit otherwise.
    Merge,
    /// One new commit on the base with the branch's changes.
    Squash,
    /// The branch's commits replayed one by one on the base (authors kept), fast-forward when
    /// the base has not moved. Branches with merge commits are refused.
    Rebase,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The base's new tip.
    pub sha: String,
    /// fast-forward, merge commit or squash.
    pub how: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{repo}: branch `{branch}` does not exist")]
    NoBranch { repo: PathBuf, branch: String },
    #[error("{repo}: `{branch}` moved since it was reviewed (reviewed {reviewed}, now {now}); review it again")]
    Moved {
        repo: PathBuf,
        branch: String,
        reviewed: String,
        now: String,
    },
    #[error("{repo}: merging `{branch}` into `{base}` conflicts in {}; resolve it on the branch and review again", paths.join(", "))]
    Conflicts {
        repo: PathBuf,
        branch: String,
        base: String,
        paths: Vec<String>,
    },
    #[error("{worktree}: `{base}` is checked out here with uncommitted changes ({}); commit or stash them first", paths.join(", "))]
    Dirty {
        worktree: PathBuf,
        base: String,
        paths: Vec<String>,
    },
    #[error("{repo}: `{branch}` has merge commits ({commit}); rebase needs a linear branch, merge or squash it instead")]
    NotLinear {
        repo: PathBuf,
        branch: String,
        commit: String,
    },
    #[error("{repo}: {source}")]
    Git {
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },
}

/// Merges `branch` (at exactly `reviewed_sha`) into `base` in the repository at `path`.
/// `note` goes into the base's reflog entry (the outbox puts the action's key there, so a merge
/// that left no commit of its own to find can still be recognised after a crash).
pub fn merge_local(
    path: &Path,
    base: &str,
    branch: &str,
    reviewed_sha: &str,
    mode: MergeMode,
    who: &Signature,
    note: &str,
) -> Result<Merged, MergeError> {
    let git = |source| MergeError::Git {
        repo: path.to_path_buf(),
        source,
    };
    let repo = Repository::open(path).map_err(git)?;
    let tip = |name: &str| -> Result<Oid, MergeError> {
        repo.find_branch(name, BranchType::Local)
            .ok()
            .and_then(|b| b.get().target())
            .ok_or_else(|| MergeError::NoBranch {
                repo: path.to_path_buf(),
                branch: name.to_string(),
            })
    };
    let head = tip(branch)?;
    if head.to_string() != reviewed_sha {
        return Err(MergeError::Moved {
            repo: path.to_path_buf(),
            branch: branch.into(),
            reviewed: reviewed_sha.into(),
            now: head.to_string(),
        });
    }
    let base_tip = tip(base)?;

    // Where the base is checked out, its work tree must be clean and is updated with it.
    let checkout = checked_out(&repo, base).map_err(git)?;
    if let Some(wt) = &checkout {
        let dirty = dirty_paths(wt).map_err(git)?;
        if !dirty.is_empty() {
            return Err(MergeError::Dirty {
                worktree: wt.workdir().unwrap_or(wt.path()).to_path_buf(),
                base: base.into(),
                paths: dirty,
            });
        }
    }

    let base_commit = repo.find_commit(base_tip).map_err(git)?;
    let head_commit = repo.find_commit(head).map_err(git)?;
    let fast_forward = repo.graph_descendant_of(head, base_tip).map_err(git)? || head == base_tip;
    let (new_tip, how) = if fast_forward && mode != MergeMode::Squash {
        (head, "fast-forward")
    } else if mode == MergeMode::Rebase {
        (
            replay(&repo, path, branch, base, &base_commit, head, who)?,
            "rebase",
        )
    } else {
        let mut index = repo
            .merge_commits(&base_commit, &head_commit, None)
            .map_err(git)?;
        if index.has_conflicts() {
            return Err(conflicts(path, branch, base, &index));
        }
        let tree = repo
            .find_tree(index.write_tree_to(&repo).map_err(git)?)
            .map_err(git)?;
        let (message, parents, how) = match mode {
            MergeMode::Squash => (
                format!(
                    "{} (squashed from '{branch}')",
                    head_commit.summary().unwrap_or(branch)
                ),
                vec![&base_commit],
                "squash",
            ),
            _ => (
                format!("Merge branch '{branch}' into {base}"),
                vec![&base_commit, &head_commit],
                "merge commit",
            ),
        };
        let oid = repo
            .commit(None, who, who, &message, &tree, &parents)
            .map_err(git)?;
        (oid, how)
    };

    // Files first (refusing to overwrite anything untracked), then the ref: a refused
    // checkout leaves the base where it was.
    if let Some(wt) = &checkout {
        let target = wt.find_commit(new_tip).map_err(git)?;
        wt.checkout_tree(target.as_object(), Some(CheckoutBuilder::new().safe()))
            .map_err(git)?;
    }
    repo.reference(
        &format!("refs/heads/{base}"),
        new_tip,
        true,
        &format!("flightdeck: {how} of {branch} {note}"),
    )
    .map_err(git)?;
    Ok(Merged {
        sha: new_tip.to_string(),
        how,
    })
}

/// Replays the commits of `branch` not on the base onto `onto`, oldest first: each keeps its
/// author and message, the lead commits it. Commits that change nothing on the new base are
/// dropped, as `git rebase` drops them. Returns the last new commit.
fn replay(
    repo: &Repository,
    path: &Path,
    branch: &str,
    base: &str,
    onto: &git2::Commit<'_>,
    head: Oid,
    who: &Signature,
) -> Result<Oid, MergeError> {
    let git = |source| MergeError::Git {
        repo: path.to_path_buf(),
        source,
    };
    let mut walk = repo.revwalk().map_err(git)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .map_err(git)?;
    walk.push(head).map_err(git)?;
    walk.hide(onto.id()).map_err(git)?;
    let mut tip = onto.clone();
    for oid in walk {
        let c = repo.find_commit(oid.map_err(git)?).map_err(git)?;
        if c.parent_count() > 1 {
            return Err(MergeError::NotLinear {
                repo: path.to_path_buf(),
                branch: branch.into(),
                commit: c.id().to_string(),
            });
        }
        let mut index = repo.cherrypick_commit(&c, &tip, 0, None).map_err(git)?;
        if index.has_conflicts() {
            return Err(conflicts(path, branch, base, &index));
        }
        let tree_id = index.write_tree_to(repo).map_err(git)?;
        if tree_id == tip.tree_id() {
            continue;
        }
        let tree = repo.find_tree(tree_id).map_err(git)?;
        let message = String::from_utf8_lossy(c.message_bytes());
        let oid = repo
            .commit(None, &c.author(), who, &message, &tree, &[&tip])
            .map_err(git)?;
        tip = repo.find_commit(oid).map_err(git)?;
    }
    Ok(tip.id())
}

/// The refusal for a merged index with conflicts, naming the paths (sorted).
fn conflicts(path: &Path, branch: &str, base: &str, index: &git2::Index) -> MergeError {
    let mut paths: Vec<String> = match index.conflicts() {
        Ok(c) => c
            .flatten()
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect(),
        Err(source) => {
            return MergeError::Git {
                repo: path.to_path_buf(),
                source,
            }
        }
    };
    paths.sort();
    paths.dedup();
    MergeError::Conflicts {
        repo: path.to_path_buf(),
        branch: branch.into(),
        base: base.into(),
        paths,
    }
}

/// Whether the reflog of `branch` mentions `needle` (an outbox action's key).
pub fn reflog_mentions(path: &Path, branch: &str, needle: &str) -> Result<bool, git2::Error> {
    let repo = Repository::open(path)?;
    let log = repo.reflog(&format!("refs/heads/{branch}"))?;
    Ok(log
        .iter()
        .any(|e| e.message().is_some_and(|m| m.contains(needle))))
}

/// The repository (main work tree or a linked worktree) that has `base` checked out.
fn checked_out(repo: &Repository, base: &str) -> Result<Option<Repository>, git2::Error> {
    let on_base = |r: &Repository| {
        r.head()
            .ok()
            .is_some_and(|h| h.is_branch() && h.shorthand() == Some(base))
    };
    if !repo.is_bare() && on_base(repo) {
        return repo.workdir().map(Repository::open).transpose();
    }
    for name in repo.worktrees()?.iter().flatten() {
        let wt = repo.find_worktree(name)?;
        if let Ok(r) = Repository::open(wt.path()) {
            if on_base(&r) {
                return Ok(Some(r));
            }
        }
    }
    Ok(None)
}

/// Tracked files changed in the work tree or the index (untracked files do not count, but a
/// checkout will not overwrite them).
fn dirty_paths(repo: &Repository) -> Result<Vec<String>, git2::Error> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false).include_ignored(false);
    let statuses = repo.statuses(Some(&mut opts))?;
    Ok(statuses
        .iter()
        .filter(|s| s.status() != Status::CURRENT)
        .filter_map(|s| s.path().map(str::to_string))
        .collect())
}
