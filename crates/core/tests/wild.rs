//! Repositories as they are found on people's machines, each built with git itself: partial
//! clones without blobs or trees, a shallow clone, a lost object, a submodule, large and binary
//! files, a bare repository, a worktree whose main checkout moved. None is skipped whole: every
//! commit is counted and attributed, and a diffstat that cannot be computed is unknown (`None`),
//! never guessed; every one that can is `git log --numstat`'s.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use flightdeck_core::sources::git;

fn run_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        // The user's own git settings (a diff algorithm, say) must not change what is compared.
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "protocol.file.allow=always",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@acme.dev")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@acme.dev")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A history of 12 commits on main and 3 on an agent branch: text edits, a binary file, a
/// 3 MB file, a deletion, a file without a final newline. Objects stay loose.
fn source(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    run_git(&src, &["init", "-q"]);
    run_git(&src, &["config", "uploadpack.allowFilter", "true"]);
    for i in 0..12 {
        let body: String = (0..(i + 3)).map(|l| format!("line {l} of {i}\n")).collect();
        std::fs::write(src.join(format!("f{}.txt", i % 4)), body).unwrap();
        match i {
            3 => std::fs::write(src.join("logo.bin"), [0u8, 1, 2, 0, 255, 7]).unwrap(),
            5 => {
                let big: String = (0..60_000).map(|l| format!("row {l:08}\n")).collect();
                std::fs::write(src.join("big.txt"), big).unwrap()
            }
            7 => std::fs::remove_file(src.join("logo.bin")).unwrap(),
            9 => std::fs::write(src.join("tail.txt"), "no newline").unwrap(),
            _ => {}
        }
        run_git(&src, &["add", "-A"]);
        run_git(&src, &["commit", "-q", "-m", &format!("Change {i}")]);
    }
    run_git(&src, &["checkout", "-q", "-b", "claude/feature"]);
    for i in 0..3 {
        std::fs::write(src.join(format!("agent{i}.txt")), format!("agent {i}\n")).unwrap();
        run_git(&src, &["add", "-A"]);
        run_git(&src, &["commit", "-q", "-m", &format!("Agent {i}")]);
    }
    run_git(&src, &["checkout", "-q", "main"]);
    src
}

/// `git log --numstat` of every commit reachable from `refs`: sha → (files, added, removed),
/// a binary file counting as a file with no lines.
fn numstat(repo: &Path, refs: &[&str]) -> HashMap<String, (i64, i64, i64)> {
    let mut args = vec!["log", "--numstat", "--format=@%H", "--no-renames"];
    args.extend(refs);
    let text = run_git(repo, &args);
    let mut out = HashMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(sha) = line.strip_prefix('@') {
            current = Some(sha.to_string());
            out.insert(sha.to_string(), (0, 0, 0));
        } else if let (Some(sha), Some((a, rest))) = (&current, line.split_once('\t')) {
            let d = rest.split('\t').next().unwrap_or("");
            let e = out.get_mut(sha).unwrap();
            e.0 += 1;
            e.1 += a.parse::<i64>().unwrap_or(0);
            e.2 += d.parse::<i64>().unwrap_or(0);
        }
    }
    out
}

/// Scans `path` and checks: every commit in `expected_shas` is there, once; a known diffstat is
/// `truth`'s; returns how many are unknown.
fn scan_and_check(
    path: &Path,
    expected_shas: usize,
    truth: &HashMap<String, (i64, i64, i64)>,
) -> usize {
    let scan = git::scan(path, &[], 0).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(scan.commits.len(), expected_shas, "{}", path.display());
    let agent = scan
        .commits
        .iter()
        .filter(|c| c.agent.as_deref() == Some("claude-code"))
        .count();
    assert_eq!(agent, 3, "agent commits of {}", path.display());
    let mut unknown = 0;
    for c in &scan.commits {
        match (c.files_changed, c.insertions, c.deletions) {
            (Some(f), Some(i), Some(d)) => {
                assert_eq!(Some(&(f, i, d)), truth.get(&c.sha), "{}", c.summary)
            }
            (None, None, None) => unknown += 1,
            other => panic!("a partial diffstat for {}: {other:?}", c.summary),
        }
    }
    unknown
}

#[test]
fn partial_clones_count_every_commit_and_leave_missing_diffstats_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let truth = numstat(&src, &["main", "claude/feature"]);
    let url = format!("file://{}", src.display());
    for (name, filter) in [("blobless", "blob:none"), ("treeless", "tree:0")] {
        let clone = dir.path().join(name);
        run_git(
            dir.path(),
            &[
                "clone",
                "-q",
                "--no-checkout",
                &format!("--filter={filter}"),
                &url,
                name,
            ],
        );
        // The agent's branch, as a local branch (a clone has only main).
        run_git(
            &clone,
            &["branch", "claude/feature", "origin/claude/feature"],
        );
        let unknown = scan_and_check(&clone, 15, &truth);
        assert!(
            unknown > 0,
            "{name}: every diffstat was computed without its objects"
        );
    }
}

/// A `--depth` clone of `src` beside it, with the agent's branch as a local branch.
fn shallow_clone(src: &Path, depth: u32) -> std::path::PathBuf {
    let url = format!("file://{}", src.display());
    let parent = src.parent().unwrap();
    let name = format!("shallow-{depth}");
    run_git(
        parent,
        &[
            "clone",
            "-q",
            "--depth",
            &depth.to_string(),
            "--no-single-branch",
            &url,
            &name,
        ],
    );
    let clone = parent.join(name);
    run_git(
        &clone,
        &["branch", "claude/feature", "origin/claude/feature"],
    );
    clone
}

#[test]
fn a_shallow_clone_counts_what_it_has_and_its_boundary_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let truth = numstat(&src, &["main", "claude/feature"]);
    let clone = shallow_clone(&src, 4);
    // main's last 4, and the branch's 3 on top of main's 12th (within the 4).
    let have = run_git(&clone, &["rev-list", "--count", "main", "claude/feature"]);
    let have: usize = have.trim().parse().unwrap();
    assert_eq!(have, 7);
    // The boundary commit's parent is not there: its diffstat is unknown, not "adds every
    // file" as a root commit's would be.
    assert_eq!(scan_and_check(&clone, have, &truth), 1);

    // Depth 1: the agent branch's fork point is beyond the boundary. The repo still reads;
    // its change's lines and mergeability are unknown.
    let one = shallow_clone(&src, 1);
    let scan = git::scan(&one, &[], 0).unwrap();
    assert_eq!(scan.commits.len(), 2);
    let change = scan
        .changes
        .iter()
        .find(|c| c.head == "claude/feature")
        .unwrap();
    assert_eq!((change.insertions, change.mergeable), (None, None));
}

#[test]
fn a_lost_object_makes_one_diffstat_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let truth = numstat(&src, &["main", "claude/feature"]);
    // The blob `tail.txt` was added with, gone from the object store.
    let blob = run_git(&src, &["rev-parse", "main:tail.txt"]);
    let blob = blob.trim();
    let file = src.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(scan_and_check(&src, 15, &truth), 1);
}

#[test]
fn submodules_bare_repositories_and_moved_checkouts_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    // A submodule added, then moved to another commit of its own repository.
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    run_git(&lib, &["init", "-q"]);
    for i in 0..2 {
        std::fs::write(lib.join("lib.txt"), format!("v{i}\n")).unwrap();
        run_git(&lib, &["add", "-A"]);
        run_git(&lib, &["commit", "-q", "-m", &format!("lib {i}")]);
    }
    run_git(
        &src,
        &[
            "submodule",
            "add",
            "-q",
            &lib.display().to_string(),
            "vendor/lib",
        ],
    );
    run_git(&src, &["commit", "-q", "-m", "Add the lib"]);
    run_git(&src.join("vendor/lib"), &["checkout", "-q", "HEAD~1"]);
    run_git(&src, &["commit", "-q", "-am", "Pin the lib back"]);
    let truth = numstat(&src, &["main", "claude/feature"]);
    assert_eq!(scan_and_check(&src, 17, &truth), 0);

    // A bare clone: no work tree, every commit.
    let url = format!("file://{}", src.display());
    run_git(dir.path(), &["clone", "-q", "--bare", &url, "bare.git"]);
    assert_eq!(scan_and_check(&dir.path().join("bare.git"), 17, &truth), 0);

    // A linked worktree, then its main checkout moved: the main checkout, where it is now,
    // still reads, every commit and branch.
    run_git(&src, &["worktree", "add", "-q", "-b", "claude/wt", "../wt"]);
    let moved = dir.path().join("moved");
    std::fs::rename(&src, &moved).unwrap();
    let scan = git::scan(&moved, &[], 0).unwrap();
    assert_eq!(scan.commits.len(), 17);
    assert!(scan.branches.iter().any(|b| b.name == "claude/wt"));
    // The worktree itself points at the old place: named, with the fix.
    let err = git::scan(&dir.path().join("wt"), &[], 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("git worktree repair"), "{err}");
}

/// Ingested shallow, then deepened with `git fetch --unshallow`: the history that arrived is
/// read (the known heads did not move), and the boundary's unknown diffstat becomes git's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unshallowed_clone_is_read_again_whole() {
    use flightdeck_core::domain::ingest::{self, Sources};
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let truth = numstat(&src, &["main", "claude/feature"]);
    let clone = shallow_clone(&src, 4);
    let store =
        flightdeck_core::store::Store::open(&dir.path().join("fd.db").display().to_string())
            .await
            .unwrap();
    let sources = Sources {
        repos: vec![clone.clone()],
        ..Default::default()
    };
    let stored = || async {
        let all = store.commits_between(i64::MIN, i64::MAX).await.unwrap();
        let unknown = all.iter().filter(|c| c.insertions.is_none()).count();
        for c in all.iter().filter(|c| c.insertions.is_some()) {
            let want = truth[&c.sha];
            assert_eq!(
                (c.files_changed, c.insertions, c.deletions),
                (Some(want.0), Some(want.1), Some(want.2))
            );
        }
        (all.len(), unknown)
    };
    ingest::run(&store, &sources, None, 0).await.unwrap();
    assert_eq!(stored().await, (7, 1));
    run_git(&clone, &["fetch", "-q", "--unshallow"]);
    ingest::run(&store, &sources, None, 60).await.unwrap();
    assert_eq!(stored().await, (15, 0));
}

/// A lost object that comes back (refetched, restored): the next pass that finds the clone
/// changed fills in the diffstat it had left unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diffstat_left_unknown_is_filled_in_when_its_objects_return() {
    use flightdeck_core::domain::ingest::{self, Sources};
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let truth = numstat(&src, &["main", "claude/feature"]);
    let blob = run_git(&src, &["rev-parse", "main:tail.txt"]);
    let blob = blob.trim().to_string();
    let file = src.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    let saved = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let db = dir.path().join("fd.db").display().to_string();
    let store = flightdeck_core::store::Store::open(&db).await.unwrap();
    let sources = Sources {
        repos: vec![src.clone()],
        ..Default::default()
    };
    let unknown = || async {
        let all = store.commits_between(i64::MIN, i64::MAX).await.unwrap();
        all.iter()
            .filter(|c| c.insertions.is_none())
            .map(|c| c.sha.clone())
            .collect::<Vec<_>>()
    };
    ingest::run(&store, &sources, None, 0).await.unwrap();
    let left = unknown().await;
    assert_eq!(left.len(), 1);

    std::fs::write(&file, saved).unwrap();
    run_git(&src, &["commit", "-q", "--allow-empty", "-m", "later"]);
    ingest::run(&store, &sources, None, 60).await.unwrap();
    assert!(unknown().await.is_empty());
    let filled = &store
        .commits_with(&store.repos().await.unwrap()[0].id, &left)
        .await
        .unwrap()[0];
    let want = truth[&left[0]];
    assert_eq!(
        (filled.files_changed, filled.insertions, filled.deletions),
        (Some(want.0), Some(want.1), Some(want.2))
    );
}

/// A history longer than a scan's batch: the commits reach the sink in batches of at most
/// [`git::BATCH`], all of them once; a sink that refuses one stops the scan with its error; and
/// an ingest stores every commit with `git log --numstat`'s totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_is_read_and_stored_in_batches() {
    use flightdeck_core::domain::ingest::{self, Sources};
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("long");
    std::fs::create_dir_all(&repo).unwrap();
    run_git(&repo, &["init", "-q"]);
    let total = 2 * git::BATCH + 123;
    let mut stream = String::new();
    for i in 0..total {
        let body = format!("line {i}\n").repeat(i % 5 + 1);
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter Dev <dev@acme.dev> {} +0000\ndata {}\nChange {i}\n",
            1_700_000_000 + i * 60,
            format!("Change {i}\n").len()
        ));
        stream.push_str(&format!(
            "M 100644 inline f{}.txt\ndata {}\n{body}\n",
            i % 7,
            body.len()
        ));
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&repo)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());

    let mut sizes = Vec::new();
    let scan = git::scan_batched(&repo, &[], 0, &mut |batch| {
        sizes.push(batch.len());
        Ok(())
    })
    .unwrap();
    assert_eq!(sizes, vec![git::BATCH, git::BATCH, 123]);
    assert_eq!(scan.new_commits, total);
    assert!(scan.commits.is_empty(), "a batched scan kept its commits");

    let mut calls = 0;
    let err = git::scan_batched(&repo, &[], 0, &mut |_| {
        calls += 1;
        if calls == 2 {
            return Err(flightdeck_core::Error::Invalid {
                path: repo.clone(),
                message: "store full".into(),
            });
        }
        Ok(())
    })
    .expect_err("a refused batch did not stop the scan");
    assert!(err.to_string().contains("store full"), "{err}");
    assert_eq!(calls, 2, "the scan read on after its sink refused");

    let store =
        flightdeck_core::store::Store::open(&dir.path().join("fd.db").display().to_string())
            .await
            .unwrap();
    let sources = Sources {
        repos: vec![repo.clone()],
        ..Default::default()
    };
    let report = ingest::run(&store, &sources, None, 0).await.unwrap();
    assert_eq!(report.new_commits, total);
    let stored = store.commits_between(i64::MIN, i64::MAX).await.unwrap();
    let truth = numstat(&repo, &["main"]);
    assert_eq!(stored.len(), truth.len());
    let sum = |f: fn(&(i64, i64, i64)) -> i64| truth.values().map(f).sum::<i64>();
    let lines: (i64, i64, i64) = stored.iter().fold((0, 0, 0), |a, c| {
        (
            a.0 + c.files_changed.unwrap(),
            a.1 + c.insertions.unwrap(),
            a.2 + c.deletions.unwrap(),
        )
    });
    assert_eq!(lines, (sum(|t| t.0), sum(|t| t.1), sum(|t| t.2)));
    let again = ingest::run(&store, &sources, None, 60).await.unwrap();
    assert_eq!(again.new_commits, 0);
}
