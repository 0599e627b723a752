//! Local merges on real repositories: fast-forward, merge commit, squash, and each refusal
//! (conflict, dirty work tree, branch moved since review) leaving everything as it was.

mod support;

use std::path::Path;

use flightdeck_core::forge::merge::{merge_local, reflog_mentions, MergeError, MergeMode};
use support::{commit_file, tree_commit};

fn repo(dir: &Path) -> git2::Repository {
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &init).unwrap();
    commit_file(&repo, "main", "README.md", "# app\n", "Initial commit");
    repo
}

fn tip(repo: &git2::Repository, branch: &str) -> String {
    repo.find_branch(branch, git2::BranchType::Local)
        .unwrap()
        .get()
        .target()
        .unwrap()
        .to_string()
}

/// Commits `path` on `branch` without touching the checked-out work tree (as an agent in
/// another worktree would).
fn commit_elsewhere(repo: &git2::Repository, branch: &str, path: &str, body: &str) -> String {
    tree_commit(repo, branch, &format!("Change {path}"), |r, tb| {
        tb.insert(path, r.blob(body.as_bytes()).unwrap(), 0o100644)
            .unwrap();
    })
}

fn lead() -> git2::Signature<'static> {
    git2::Signature::now("Alice Lead", "alice@acme.dev").unwrap()
}

/// Merges `branch` as reviewed at `sha` into main, expecting a refusal.
fn refused(dir: &Path, branch: &str, sha: &str) -> MergeError {
    merge_local(dir, "main", branch, sha, MergeMode::Merge, &lead(), "").unwrap_err()
}

#[test]
fn fast_forward_updates_the_checked_out_base_and_keeps_the_branch() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let head = commit_elsewhere(&r, "claude/feature", "src.rs", "fn main() {}\n");
    let merged = merge_local(
        dir.path(),
        "main",
        "claude/feature",
        &head,
        MergeMode::Merge,
        &lead(),
        "(action k1)",
    )
    .unwrap();
    assert_eq!(
        (merged.sha.as_str(), merged.how),
        (head.as_str(), "fast-forward")
    );
    assert_eq!(tip(&r, "main"), head);
    assert_eq!(tip(&r, "claude/feature"), head, "the branch is kept");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("src.rs")).unwrap(),
        "fn main() {}\n"
    );
    assert!(r
        .statuses(None)
        .unwrap()
        .iter()
        .all(|s| s.status() == git2::Status::CURRENT));
}

#[test]
fn the_reflog_names_the_action_behind_a_merge() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let head = commit_elsewhere(&r, "claude/feature", "src.rs", "fn main() {}\n");
    assert!(!reflog_mentions(dir.path(), "main", "(action k1)").unwrap());
    merge_local(
        dir.path(),
        "main",
        "claude/feature",
        &head,
        MergeMode::Merge,
        &lead(),
        "(action k1)",
    )
    .unwrap();
    assert!(reflog_mentions(dir.path(), "main", "(action k1)").unwrap());
    assert!(!reflog_mentions(dir.path(), "main", "(action k2)").unwrap());
}

#[test]
fn rebase_replays_the_branch_on_the_moved_base_keeping_authors_and_the_branch() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let first = commit_elsewhere(&r, "codex/feature", "a.rs", "// a\n");
    let head = commit_elsewhere(&r, "codex/feature", "b.rs", "// b\n");
    commit_file(&r, "main", "other.rs", "// other\n", "Meanwhile on main");
    let before = tip(&r, "main");
    let merged = merge_local(
        dir.path(),
        "main",
        "codex/feature",
        &head,
        MergeMode::Rebase,
        &lead(),
        "",
    )
    .unwrap();
    assert_eq!(merged.how, "rebase");
    assert_eq!(tip(&r, "main"), merged.sha);
    assert_eq!(tip(&r, "codex/feature"), head, "the branch is kept");
    // Two new commits, one per branch commit, in order, on top of the moved base.
    let second = r
        .find_commit(git2::Oid::from_str(&merged.sha).unwrap())
        .unwrap();
    let one = second.parent(0).unwrap();
    assert_eq!(second.parent_count(), 1);
    assert_eq!(one.parent_id(0).unwrap().to_string(), before);
    assert_ne!(
        second.id().to_string(),
        head,
        "replayed, not fast-forwarded"
    );
    for (new, old) in [(&one, &first), (&second, &head)] {
        let old = r.find_commit(git2::Oid::from_str(old).unwrap()).unwrap();
        assert_eq!(new.message(), old.message());
        assert_eq!(
            new.author().name(),
            Some("Claude"),
            "the agent stays the author"
        );
        assert_eq!(new.committer().name(), Some("Alice Lead"));
    }
    for f in ["a.rs", "b.rs", "other.rs", "README.md"] {
        assert!(dir.path().join(f).is_file(), "{f} in the work tree");
    }

    // Not moved: a rebase is a fast-forward to the very commits reviewed.
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let head = commit_elsewhere(&r, "codex/feature", "a.rs", "// a\n");
    let merged = merge_local(
        dir.path(),
        "main",
        "codex/feature",
        &head,
        MergeMode::Rebase,
        &lead(),
        "",
    )
    .unwrap();
    assert_eq!((merged.sha, merged.how), (head, "fast-forward"));
}

#[test]
fn rebase_refuses_conflicts_and_branches_with_merges_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let head = commit_elsewhere(&r, "codex/feature", "README.md", "# agent's\n");
    commit_file(&r, "main", "README.md", "# lead's\n", "Meanwhile on main");
    let before = tip(&r, "main");
    let rebase = |branch: &str, sha: &str| {
        merge_local(
            dir.path(),
            "main",
            branch,
            sha,
            MergeMode::Rebase,
            &lead(),
            "",
        )
        .unwrap_err()
    };
    match rebase("codex/feature", &head) {
        MergeError::Conflicts { paths, .. } => assert_eq!(paths, vec!["README.md"]),
        other => panic!("expected a conflict, got {other}"),
    }
    assert_eq!(tip(&r, "main"), before);

    // A branch that merged main into itself is not linear.
    let side = commit_elsewhere(&r, "codex/merged", "x.rs", "// x\n");
    let side_c = r.find_commit(git2::Oid::from_str(&side).unwrap()).unwrap();
    let main_c = r
        .find_commit(git2::Oid::from_str(&before).unwrap())
        .unwrap();
    let tree = side_c.tree().unwrap();
    let who = lead();
    let merge = r
        .commit(
            Some("refs/heads/codex/merged"),
            &who,
            &who,
            "Merge main",
            &tree,
            &[&side_c, &main_c],
        )
        .unwrap();
    commit_file(&r, "main", "later.rs", "// later\n", "Main moves on");
    let err = rebase("codex/merged", &merge.to_string());
    assert!(
        matches!(&err, MergeError::NotLinear { commit, .. } if *commit == merge.to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("merge or squash it instead"));
}

#[test]
fn a_moved_base_gets_a_merge_commit_or_a_squash() {
    for mode in [MergeMode::Merge, MergeMode::Squash] {
        let dir = tempfile::tempdir().unwrap();
        let r = repo(dir.path());
        let head = commit_elsewhere(&r, "claude/feature", "feature.rs", "// feature\n");
        commit_file(&r, "main", "other.rs", "// other\n", "Meanwhile on main");
        let before = tip(&r, "main");
        let merged = merge_local(
            dir.path(),
            "main",
            "claude/feature",
            &head,
            mode,
            &lead(),
            "",
        )
        .unwrap();
        let c = r
            .find_commit(git2::Oid::from_str(&merged.sha).unwrap())
            .unwrap();
        match mode {
            MergeMode::Merge => {
                assert_eq!(merged.how, "merge commit");
                let parents: Vec<String> = c.parent_ids().map(|p| p.to_string()).collect();
                assert_eq!(parents, vec![before.clone(), head.clone()]);
            }
            MergeMode::Squash => {
                assert_eq!(merged.how, "squash");
                assert_eq!(c.parent_count(), 1);
                assert!(c
                    .summary()
                    .unwrap()
                    .contains("squashed from 'claude/feature'"));
            }
            MergeMode::Rebase => unreachable!("tested on its own"),
        }
        assert_eq!(c.author().name(), Some("Alice Lead"));
        assert_eq!(tip(&r, "main"), merged.sha);
        for f in ["feature.rs", "other.rs", "README.md"] {
            assert!(dir.path().join(f).is_file(), "{f} in the work tree");
        }
    }
}

#[test]
fn conflicts_dirty_trees_and_moved_branches_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let head = commit_elsewhere(&r, "claude/readme", "README.md", "# app by claude\n");
    commit_file(&r, "main", "README.md", "# app by alice\n", "Edit readme");
    let main_before = tip(&r, "main");

    let err = refused(dir.path(), "claude/readme", &head);
    assert!(
        matches!(&err, MergeError::Conflicts { paths, .. } if paths == &["README.md"]),
        "{err}"
    );
    assert!(err.to_string().contains("conflicts in README.md"), "{err}");
    assert_eq!(tip(&r, "main"), main_before);
    assert_eq!(tip(&r, "claude/readme"), head);

    // A clean branch, but the lead has uncommitted edits where main is checked out.
    let clean = commit_elsewhere(&r, "claude/clean", "new.rs", "// new\n");
    std::fs::write(dir.path().join("README.md"), "# work in progress\n").unwrap();
    let err = refused(dir.path(), "claude/clean", &clean);
    assert!(
        matches!(&err, MergeError::Dirty { paths, .. } if paths == &["README.md"]),
        "{err}"
    );
    assert!(
        err.to_string().contains("uncommitted changes (README.md)"),
        "{err}"
    );
    assert_eq!(tip(&r, "main"), main_before);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
        "# work in progress\n"
    );
    assert!(!dir.path().join("new.rs").exists());
    std::fs::write(dir.path().join("README.md"), "# app by alice\n").unwrap();

    // The agent pushed again after the review: the reviewed commit is not the tip any more.
    let newer = commit_elsewhere(&r, "claude/clean", "new.rs", "// newer\n");
    let err = refused(dir.path(), "claude/clean", &clean);
    assert!(
        matches!(&err, MergeError::Moved { now, .. } if now == &newer),
        "{err}"
    );
    assert_eq!(tip(&r, "main"), main_before);

    let err = refused(dir.path(), "claude/gone", &clean);
    assert!(
        err.to_string()
            .contains("branch `claude/gone` does not exist"),
        "{err}"
    );
}
