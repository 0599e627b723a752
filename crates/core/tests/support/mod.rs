//! Test helpers: a fresh SQLite file in a temp dir or a fresh PostgreSQL database, and commits
//! to real repositories. Each test binary uses part of this module.
#![allow(dead_code, unused_macros, unused_imports)]

use flightdeck_core::store::Store;

pub struct TestDb {
    pub store: Store,
    /// Where the store is, for a second `Store::open` (a restart, another machine).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

fn pg_admin_url() -> String {
    std::env::var("FLIGHTDECK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        Self {
            store: Store::open(&url).await.unwrap(),
            url,
            _dir: Some(dir),
            pg: None,
        }
    }

    pub async fn postgres() -> Self {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let admin = pg_admin_url();
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is not reachable ({e}); start it (scripts/test.sh does) or set FLIGHTDECK_TEST_PG_URL")
        });
        let name = format!(
            "fd_test_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin.clone());
        let url = format!("{base}/{name}");
        Self {
            store: Store::open(&url).await.unwrap(),
            url,
            _dir: None,
            pg: Some((admin, name)),
        }
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.pg {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
                // FORCE: a listener's connection may still be closing (PostgreSQL 13+).
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::support::TestDb::sqlite().await).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::support::TestDb::postgres().await).await
            }
        }
    };
}
pub(crate) use both;

/// Writes `path` (creating folders) with `body` and commits it on `branch` (created from HEAD
/// when new).
pub fn commit_file(repo: &git2::Repository, branch: &str, path: &str, body: &str, message: &str) {
    let full = repo.workdir().unwrap().join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, body).unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(std::path::Path::new(path)).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let parent = tip_or_head(repo, branch);
    let sig = git2::Signature::now("Alice", "alice@acme.dev").unwrap();
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(
        Some(&format!("refs/heads/{branch}")),
        &sig,
        &sig,
        message,
        &tree,
        &parents,
    )
    .unwrap();
}

/// The tip of `branch`, or HEAD's commit when the branch does not exist yet (none in an
/// empty repository).
fn tip_or_head<'r>(repo: &'r git2::Repository, branch: &str) -> Option<git2::Commit<'r>> {
    repo.find_branch(branch, git2::BranchType::Local)
        .ok()
        .and_then(|b| b.get().peel_to_commit().ok())
        .or_else(|| repo.head().ok().and_then(|h| h.peel_to_commit().ok()))
}

/// Commits on `branch`, on top of HEAD, a tree edited by `edit`, without touching the work tree
/// or index (as an agent working in another worktree would). Returns the commit id.
pub fn tree_commit(
    repo: &git2::Repository,
    branch: &str,
    message: &str,
    edit: impl FnOnce(&git2::Repository, &mut git2::TreeBuilder),
) -> String {
    let parent = tip_or_head(repo, branch).expect("a repository with a commit");
    let mut tb = repo.treebuilder(Some(&parent.tree().unwrap())).unwrap();
    edit(repo, &mut tb);
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = git2::Signature::now("Claude", "noreply@anthropic.com").unwrap();
    let branch_ref = format!("refs/heads/{branch}");
    repo.commit(Some(&branch_ref), &sig, &sig, message, &tree, &[&parent])
        .unwrap()
        .to_string()
}

/// A merged local change request on `branch` of `repo` with head `sha` by `author`: one commit,
/// no cost, labels or reviewers; tests change what they weigh with `..` on it.
pub fn merged_change(
    repo: &str,
    branch: &str,
    sha: &str,
    author: flightdeck_core::model::Author,
    opened: i64,
) -> flightdeck_core::model::ChangeRequest {
    flightdeck_core::model::ChangeRequest {
        id: format!("local:{repo}:{branch}"),
        kind: flightdeck_core::model::ChangeKind::Local,
        repo: repo.into(),
        title: branch.into(),
        head: branch.into(),
        base: "main".into(),
        head_sha: sha.into(),
        author,
        state: flightdeck_core::model::ChangeState::Merged,
        created_at: opened,
        updated_at: opened,
        commits: 1,
        files_changed: Some(1),
        insertions: Some(1),
        deletions: Some(0),
        agent_cost_usd: 0.0,
        labels: vec![],
        requested_reviewers: vec![],
        mergeable: None,
        merged_at: None,
        first_commit_at: None,
    }
}

/// A finished Claude Code run, session `id`, on `branch` of `repo` (also its cwd), ten minutes
/// long up to `ended`, costing `cost`; tests change what they weigh with `..` on it.
pub fn finished_run(
    id: &str,
    repo: &str,
    branch: &str,
    cost: f64,
    ended: i64,
) -> flightdeck_core::model::AgentRun {
    flightdeck_core::model::AgentRun {
        id: id.into(),
        agent: "claude-code".into(),
        session_id: id.into(),
        model: "claude-sonnet-4-5".into(),
        cwd: repo.into(),
        repo: Some(repo.into()),
        branch: Some(branch.into()),
        title: id.into(),
        started_at: ended - 600,
        ended_at: ended,
        state: flightdeck_core::model::RunState::Finished,
        turns: 1,
        tool_calls: 0,
        errors: 0,
        files_touched: 0,
        models: vec![],
        tokens: flightdeck_core::model::Tokens::default(),
        cost_usd: cost,
        source_path: format!("/l/{id}.jsonl"),
        skipped_lines: 0,
    }
}

/// The identity a scan keys the repository at `path` by (`root:<sha>` for a test repo with no
/// remote; see `model::repo_id`).
#[allow(dead_code)]
pub fn repo_id(path: impl AsRef<std::path::Path>) -> String {
    flightdeck_core::sources::git::identity_of(path.as_ref()).unwrap()
}
