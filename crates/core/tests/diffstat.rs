//! The git scan's own diffstat agrees with libgit2's `Diff::stats` (which agrees with
//! `git diff --numstat` when renames are not followed) on every commit of a history built to
//! hit the awkward cases: nested directories, a file replaced by a directory of the same name,
//! names that sort differently once a directory's implicit `/` counts, binary files, a missing
//! final newline, a mode-only change, a deleted directory, a root commit and a merge.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use flightdeck_core::sources::diffstat::Differ;
use flightdeck_core::sources::git;
use git2::{Oid, Repository, Signature};

fn commit_all(repo: &Repository, message: &str, parents: &[Oid]) -> Oid {
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::now("Dev", "dev@acme.dev").unwrap();
    let parents: Vec<_> = parents
        .iter()
        .map(|p| repo.find_commit(*p).unwrap())
        .collect();
    let parent_refs: Vec<_> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parent_refs)
        .unwrap()
}

fn write(dir: &Path, file: &str, body: &[u8]) {
    let p = dir.join(file);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, body).unwrap();
}

fn numbered(n: usize, tag: &str) -> String {
    (0..n).map(|i| format!("line {i} {tag}\n")).collect()
}

#[test]
fn diffstat_matches_libgit2_on_awkward_history() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = Repository::init(dir).unwrap();

    write(dir, "a.txt", numbered(10, "a").as_bytes());
    write(dir, "a-b.txt", b"dash\n");
    write(dir, "a/inner.txt", numbered(3, "inner").as_bytes());
    write(dir, "src/deep/mod/x.rs", numbered(40, "x").as_bytes());
    write(dir, "foo", b"a file named foo\n");
    write(dir, "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    let root = commit_all(&repo, "root", &[]);

    // Edits in nested directories, a line removed, no final newline.
    let mut x = numbered(40, "x");
    x = x
        .replace("line 7 x\n", "line seven x\n")
        .replace("line 9 x\n", "");
    write(dir, "src/deep/mod/x.rs", x.as_bytes());
    write(dir, "a-b.txt", b"dash");
    write(dir, "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR changed");
    let c1 = commit_all(&repo, "edits", &[root]);

    // `foo` becomes a directory; `a/` is deleted; a new nested file; exec bit only.
    fs::remove_file(dir.join("foo")).unwrap();
    write(dir, "foo/bar.txt", numbered(5, "bar").as_bytes());
    fs::remove_dir_all(dir.join("a")).unwrap();
    write(dir, "b/c/d/e.txt", numbered(2, "e").as_bytes());
    let mut perms = fs::metadata(dir.join("a.txt")).unwrap().permissions();
    perms.set_mode(0o755);
    fs::set_permissions(dir.join("a.txt"), perms).unwrap();
    let c2 = commit_all(&repo, "restructure", &[c1]);

    // A side branch and a merge (diffed against its first parent).
    let side_base = repo.find_commit(c2).unwrap();
    repo.branch("side", &side_base, false).unwrap();
    write(dir, "b/c/d/e.txt", numbered(6, "e").as_bytes());
    let side = {
        let sig = Signature::now("Dev", "dev@acme.dev").unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        repo.commit(
            Some("refs/heads/side"),
            &sig,
            &sig,
            "side",
            &tree,
            &[&side_base],
        )
        .unwrap()
    };
    write(dir, "a.txt", numbered(12, "a").as_bytes());
    let merge = commit_all(&repo, "merge", &[c2, side]);

    let odb = repo.odb().unwrap();
    let mut differ = Differ::new(&odb);
    let mut checked = 0;
    for oid in [merge, side, c2, c1, root] {
        let c = repo.find_commit(oid).unwrap();
        let parent = c.parent(0).ok().map(|p| p.tree().unwrap());
        let expected = repo
            .diff_tree_to_tree(parent.as_ref(), Some(&c.tree().unwrap()), None)
            .unwrap()
            .stats()
            .unwrap();
        let got = differ
            .between(parent.as_ref().map(|t| t.id()), c.tree_id())
            .unwrap();
        assert_eq!(
            (got.files_changed, got.insertions, got.deletions),
            (
                expected.files_changed() as i64,
                expected.insertions() as i64,
                expected.deletions() as i64
            ),
            "commit {:?}",
            c.summary()
        );
        checked += 1;
    }
    assert_eq!(checked, 5);

    // Spot values, so agreement with libgit2 is not agreement on zero.
    let c1_stat = {
        let c = repo.find_commit(c1).unwrap();
        differ
            .between(Some(c.parent(0).unwrap().tree_id()), c.tree_id())
            .unwrap()
    };
    // x.rs: 1 changed + 1 removed line; a-b.txt: final newline dropped; logo.png: binary.
    assert_eq!(
        (c1_stat.files_changed, c1_stat.insertions, c1_stat.deletions),
        (3, 2, 3)
    );

    // The scan stores the same numbers.
    let scan = git::scan(dir, &[], 0).unwrap();
    let stored = scan
        .commits
        .iter()
        .find(|c| c.sha == c1.to_string())
        .unwrap();
    assert_eq!(
        (stored.files_changed, stored.insertions, stored.deletions),
        (Some(3), Some(2), Some(3))
    );
}
