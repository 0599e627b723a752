//! A change request's diff on a real repository: statuses (added, modified, deleted, renamed),
//! line numbers, binary files noted without hunks, and paging over many files.

mod support;

use flightdeck_core::forge::diff::{local_diff, FILES_PER_PAGE};
use support::{commit_file, tree_commit};

#[test]
fn files_statuses_lines_binaries_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(dir.path(), &init).unwrap();
    let long: String = (1..=40).map(|i| format!("line {i}\n")).collect();
    commit_file(
        &repo,
        "main",
        "lib.rs",
        "fn a() {}\nfn b() {}\nfn c() {}\n",
        "init",
    );
    commit_file(&repo, "main", "old_name.txt", &long, "more");
    commit_file(&repo, "main", "gone.txt", "bye\n", "more");

    let blob = |s: &[u8]| repo.blob(s).unwrap();
    let renamed = long.replace("line 40\n", "line forty\n");
    let head = tree_commit(&repo, "claude/x", "agent work", |_, tb| {
        tb.insert(
            "lib.rs",
            blob(b"fn a() {}\nfn b2() {}\nfn c() {}\nfn d() {}\n"),
            0o100644,
        )
        .unwrap();
        tb.insert("new.md", blob(b"# new\n"), 0o100644).unwrap();
        tb.insert("logo.png", blob(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), 0o100644)
            .unwrap();
        tb.remove("gone.txt").unwrap();
        tb.remove("old_name.txt").unwrap();
        tb.insert("new_name.txt", blob(renamed.as_bytes()), 0o100644)
            .unwrap();
    });

    let d = local_diff(dir.path(), "main", &head, 1).unwrap();
    assert_eq!((d.files_total, d.page, d.pages), (5, 1, 1));
    let by = |p: &str| d.files.iter().find(|f| f.path == p).unwrap();
    let lib = by("lib.rs");
    assert_eq!(
        (lib.status.as_str(), lib.additions, lib.deletions),
        ("modified", 2, 1)
    );
    let lines: Vec<(String, Option<i64>, Option<i64>, String)> = lib.hunks[0]
        .lines
        .iter()
        .map(|l| (l.kind.clone(), l.old, l.new, l.text.clone()))
        .collect();
    assert!(
        lines.contains(&("-".into(), Some(2), None, "fn b() {}".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("+".into(), None, Some(2), "fn b2() {}".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("+".into(), None, Some(4), "fn d() {}".into())),
        "{lines:?}"
    );
    assert!(
        lib.hunks[0].header.starts_with("@@ -1,3 +1,4 @@"),
        "{}",
        lib.hunks[0].header
    );
    assert_eq!(by("new.md").status, "added");
    assert_eq!(by("gone.txt").status, "deleted");
    let png = by("logo.png");
    assert!(png.binary && png.hunks.is_empty());
    let moved = by("new_name.txt");
    assert_eq!(
        (
            moved.status.as_str(),
            moved.old_path.as_deref(),
            moved.additions,
            moved.deletions
        ),
        ("renamed", Some("old_name.txt"), 1, 1)
    );

    // Many files: pages of FILES_PER_PAGE, a page past the end gives the last.
    let many = tree_commit(&repo, "claude/many", "agent work", |_, tb| {
        for i in 0..(FILES_PER_PAGE + 7) {
            tb.insert(
                format!("f{i:03}.txt"),
                blob(format!("{i}\n").as_bytes()),
                0o100644,
            )
            .unwrap();
        }
    });
    let p1 = local_diff(dir.path(), "main", &many, 1).unwrap();
    let p2 = local_diff(dir.path(), "main", &many, 9).unwrap();
    assert_eq!((p1.pages, p1.files.len()), (2, FILES_PER_PAGE));
    assert_eq!((p2.page, p2.files.len()), (2, 7));
    assert_ne!(p1.files[0].path, p2.files[0].path);
}
