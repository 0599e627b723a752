//! Repos, their clones and branches: what one machine's scan writes, scoped so that several
//! machines sharing a database never undo each other's view; and the rekeying that carries a
//! store from path keys over to identities.

use sqlx::Row;

use super::Store;
use crate::model::error::Result;
use crate::model::{Branch, Repo};

/// Every table with a `repo` column, and the columns besides `repo` that make its rows unique
/// (empty when `repo` is not part of a key). Rekeying moves rows under the new key; a row that
/// would collide with one already there is the same fact seen from a second clone, and goes.
const REPO_TABLES: &[(&str, &[&str])] = &[
    ("branches", &["name"]),
    ("commits", &["sha"]),
    ("agent_runs", &[]),
    ("change_requests", &[]),
    ("deployments", &[]),
    ("releases", &[]),
    (
        "spend_records",
        &["vendor", "model", "day", "source", "agent", "person"],
    ),
    ("work_items", &[]),
    ("dispatches", &[]),
    ("deploy_commits", &[]),
    ("spans", &["metric", "scope", "item"]),
    ("incidents", &[]),
];

/// Columns naming a change request by id (a local change's id embeds its repo's key), and
/// whether the id is part of the row's key there.
const CHANGE_ID_COLUMNS: &[(&str, &str, bool)] = &[
    ("change_requests", "id", true),
    ("checks", "change_request", true),
    ("change_files", "change_request", true),
    ("change_patches", "change_request", true),
    ("spans", "item", true),
    ("work_links", "target", true),
    ("reviews", "change_request", false),
    ("actions", "target", false),
];

/// What a rekey did, for the ingest's report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rekeyed {
    pub rows: u64,
    /// Rows dropped as the same fact already stored under the new key (a second clone's).
    pub merged: u64,
}

impl Store {
    /// Records a scan of this machine's clone of `r`: the repo row (shared by every machine)
    /// and the clone (this machine's path).
    pub async fn upsert_repo(&self, r: &Repo) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO repos (id, name, default_branch, remote_url, last_scanned_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name,
               default_branch = excluded.default_branch, remote_url = excluded.remote_url,
               last_scanned_at = excluded.last_scanned_at",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.default_branch)
        .bind(&r.remote_url)
        .bind(r.last_scanned_at)
        .execute(&mut *tx)
        .await?;
        if let Some(path) = &r.path {
            sqlx::query(
                "INSERT INTO repo_clones (machine, path, repo, seen_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (machine, path) DO UPDATE SET repo = excluded.repo,
                   seen_at = excluded.seen_at",
            )
            .bind(self.machine())
            .bind(path)
            .bind(&r.id)
            .bind(r.last_scanned_at.unwrap_or(0))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every repo, with this machine's clone of it (the most recently scanned one) as `path`.
    pub async fn repos(&self) -> Result<Vec<Repo>> {
        let rows = sqlx::query(
            "SELECT r.id, r.name, r.default_branch, r.remote_url, r.last_scanned_at,
               (SELECT c.path FROM repo_clones c WHERE c.repo = r.id AND c.machine = $1
                ORDER BY c.seen_at DESC, c.path LIMIT 1) AS path
             FROM repos r ORDER BY r.name, r.id",
        )
        .bind(self.machine())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let path: Option<String> = r.try_get("path")?;
                Ok(Repo {
                    // A store not yet carried over keys a repo by its clone's path.
                    path: crate::model::repo_id::clone_or_legacy(path, &id),
                    id,
                    name: r.try_get("name")?,
                    default_branch: r.try_get("default_branch")?,
                    remote_url: r.try_get("remote_url")?,
                    last_scanned_at: r.try_get("last_scanned_at")?,
                })
            })
            .collect()
    }

    /// This machine's clone of repo `id`, when it has one. A pre-identity key (a payload queued
    /// before the carry-over) is its own clone.
    pub async fn repo_path(&self, id: &str) -> Result<Option<String>> {
        // The same choice as `repos()` makes, for one repo.
        let path: Option<String> = sqlx::query_scalar(
            "SELECT path FROM repo_clones WHERE repo = $1 AND machine = $2
             ORDER BY seen_at DESC, path LIMIT 1",
        )
        .bind(id)
        .bind(self.machine())
        .fetch_optional(&self.pool)
        .await?;
        Ok(crate::model::repo_id::clone_or_legacy(path, id))
    }

    /// Which clone a scan read: `machine:path` (`path`: this machine's checkout).
    pub fn clone_key(&self, path: &str) -> String {
        format!("{}:{path}", self.machine())
    }

    /// What rows from before machines were recorded call the clone at `path` (migration 29).
    fn legacy_clone_key(clone: &str) -> String {
        let path = clone.split_once(':').map_or(clone, |(_, p)| p);
        format!("?:{path}")
    }

    /// Replaces the branch set clone `clone` (see [`Self::clone_key`]) has of `repo`: upserts
    /// `branches` (now seen there) and deletes the branches it saw before and no longer has. A
    /// branch last seen in another clone (another machine's, or a second one here) stays: that
    /// clone's scan decides about it.
    pub async fn replace_branches(
        &self,
        repo: &str,
        clone: &str,
        branches: &[Branch],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for b in branches {
            sqlx::query(
                "INSERT INTO branches (repo, name, head_sha, agent, ahead, behind, worktree_path,
                   updated_at, seen_in)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (repo, name) DO UPDATE SET head_sha = excluded.head_sha,
                   agent = excluded.agent, ahead = excluded.ahead, behind = excluded.behind,
                   worktree_path = excluded.worktree_path, updated_at = excluded.updated_at,
                   seen_in = excluded.seen_in",
            )
            .bind(&b.repo)
            .bind(&b.name)
            .bind(&b.head_sha)
            .bind(&b.agent)
            .bind(b.ahead)
            .bind(b.behind)
            .bind(&b.worktree_path)
            .bind(b.updated_at)
            .bind(clone)
            .execute(&mut *tx)
            .await?;
        }
        // This clone's rows, and those from before machines were recorded that were seen at
        // this clone's path: its own too.
        let existing: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM branches WHERE repo = $1 AND (seen_in = $2 OR seen_in = $3)",
        )
        .bind(repo)
        .bind(clone)
        .bind(Self::legacy_clone_key(clone))
        .fetch_all(&mut *tx)
        .await?;
        for name in existing {
            if !branches.iter().any(|b| b.name == name) {
                sqlx::query("DELETE FROM branches WHERE repo = $1 AND name = $2")
                    .bind(repo)
                    .bind(&name)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The open local change requests of `repo` whose branch is gone from every clone (merged
    /// or deleted) and that are not among `open_ids` (what clone `clone` has open). Run after
    /// [`Self::replace_branches`].
    pub async fn vanished_local_changes(
        &self,
        repo: &str,
        clone: &str,
        open_ids: &[String],
    ) -> Result<Vec<crate::model::ChangeRequest>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM change_requests c
             WHERE c.repo = $1 AND c.kind = 'local' AND c.state = 'open'
               AND NOT EXISTS (SELECT 1 FROM branches b WHERE b.repo = c.repo AND b.name = c.head
                 AND b.seen_in <> $2 AND b.seen_in <> $3)",
        )
        .bind(repo)
        .bind(clone)
        .bind(Self::legacy_clone_key(clone))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for id in ids.into_iter().filter(|id| !open_ids.contains(id)) {
            if let Some(c) = self.change_request(&id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The branches of `repo` with an open pull request: a scan of a clone leaves those to the
    /// pull request rather than writing a local change that [`Self::fold_local_changes`] would
    /// fold away again.
    pub async fn open_pull_request_heads(
        &self,
        repo: &str,
    ) -> Result<std::collections::HashSet<String>> {
        let heads: Vec<String> = sqlx::query_scalar(
            "SELECT head FROM change_requests WHERE repo = $1 AND kind <> 'local' AND state = 'open'",
        )
        .bind(repo)
        .fetch_all(&self.pool)
        .await?;
        Ok(heads.into_iter().collect())
    }

    /// Folds the local change requests of `repo` that a pull request stands for into it: the
    /// same branch, and both open, or the pull request at the branch's head, or both landed as
    /// the same commit. (A settled branch is not folded into an open pull request that merely
    /// shares its name: a reused name, or a merge here the forge has not seen yet.) History
    /// moves to the pull request (reviews, finished actions, work links); the local row goes
    /// with its checks and files, and cycle time is measured again so its spans go too. Work
    /// seen first as a local branch and then as a pull request, in either order and on any
    /// machine, so counts once. A local change with an action still to send is left until that
    /// action ends: renamed, it would go to the forge instead of git. Returns how many were
    /// folded.
    pub async fn fold_local_changes(&self, repo: &str) -> Result<u64> {
        const PENDING: &str = "SELECT COUNT(*) FROM actions
             WHERE target = $1 AND state IN ('queued', 'sending', 'failed')";
        let pairs: Vec<(String, String)> = sqlx::query_as(
            "SELECT l.id, p.id FROM change_requests l JOIN change_requests p
               ON p.repo = l.repo AND p.head = l.head AND p.kind <> 'local'
             WHERE l.repo = $1 AND l.kind = 'local'
               AND ((p.state = 'open' AND l.state = 'open') OR p.head_sha = l.head_sha
                 OR (l.merge_sha IS NOT NULL AND l.merge_sha = p.merge_sha))
             ORDER BY l.id, p.updated_at DESC, p.id",
        )
        .bind(repo)
        .fetch_all(&self.pool)
        .await?;
        let mut folded = 0;
        let mut last = None;
        for (local, forge) in pairs {
            // One pull request per local change: the latest, when a branch had several.
            if last.as_ref() == Some(&local) {
                continue;
            }
            last = Some(local.clone());
            let mut tx = self.begin().await?;
            let pending: i64 = sqlx::query_scalar(PENDING)
                .bind(&local)
                .fetch_one(&mut *tx)
                .await?;
            if pending > 0 {
                continue;
            }
            for (table, column, unique) in CHANGE_ID_COLUMNS {
                // Table and column names come from the fixed list above, never from input.
                let sql = match *table {
                    "work_links" => "UPDATE work_links SET target = $2
                         WHERE target = $1 AND kind = 'change'
                           AND NOT EXISTS (SELECT 1 FROM work_links w
                             WHERE w.work_item = work_links.work_item AND w.kind = 'change'
                               AND w.target = $2)"
                        .to_string(),
                    // Only finished ones: one queued meanwhile stays with the local change
                    // (gone), so it fails by name rather than reaching the forge.
                    "actions" => "UPDATE actions SET target = $2
                         WHERE target = $1 AND state IN ('applied', 'dismissed')"
                        .to_string(),
                    _ if !*unique => {
                        format!("UPDATE {table} SET {column} = $2 WHERE {column} = $1")
                    }
                    // The pull request's own checks and files are the forge's word; spans
                    // follow the measure below.
                    _ => continue,
                };
                sqlx::query(&sql)
                    .bind(&local)
                    .bind(&forge)
                    .execute(&mut *tx)
                    .await?;
            }
            for (table, column, unique) in CHANGE_ID_COLUMNS.iter().rev() {
                // Spans are kept with day counts beside them: only a measure removes them.
                if *unique && *table != "spans" {
                    sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
                        .bind(&local)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            folded += 1;
        }
        if folded > 0 {
            // The local change's spans go, and the pull request's phases see the moved reviews.
            super::cycle::measure(self, repo).await?;
        }
        Ok(folded)
    }

    /// Closes change request `id` without a merge, keeping its history.
    pub async fn close_change(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE change_requests SET state = 'closed' WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Adds a clone to this machine's watched set (`flightdeck repo add`).
    pub async fn watch_repo(&self, path: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO watched_clones (machine, path, added_at) VALUES ($1, $2, $3)
             ON CONFLICT (machine, path) DO NOTHING",
        )
        .bind(self.machine())
        .bind(path)
        .bind(chrono::Utc::now().timestamp())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stops watching the clone at `path` on this machine; false when it was not watched.
    pub async fn unwatch_repo(&self, path: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM watched_clones WHERE path = $1 AND (machine = $2 OR machine = '')",
        )
        .bind(path)
        .bind(self.machine())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The clones this machine watches, and those added before clones had a machine that
    /// exist on this one (another machine's paths are not this one's to read).
    pub async fn watched_repos(&self) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT path, machine FROM watched_clones WHERE machine = $1 OR machine = ''
             ORDER BY path",
        )
        .bind(self.machine())
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<String> = rows
            .into_iter()
            .filter(|(path, machine)| !machine.is_empty() || std::path::Path::new(path).exists())
            .map(|(path, _)| path)
            .collect();
        out.dedup();
        Ok(out)
    }

    /// Repo keys written before identities: absolute paths, with the remote each had.
    pub async fn legacy_repos(&self) -> Result<Vec<(String, Option<String>)>> {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, remote_url FROM repos ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter(|(id, _)| crate::model::repo_id::is_legacy_path(id))
            .collect())
    }

    /// Moves everything stored under repo key `old` (a clone's path) to identity `new`, in one
    /// transaction, and records `old` as this machine's clone of it. Local change ids, which
    /// embed the key, are renamed wherever they are referenced, except in the audit log, whose
    /// entries are signed as written. Idempotent: a second run finds nothing under `old`.
    pub async fn rekey_repo(
        &self,
        old: &str,
        new: &str,
        clone_here: bool,
        now: i64,
    ) -> Result<Rekeyed> {
        let mut done = Rekeyed::default();
        let mut tx = self.begin().await?;
        // The repo row: moved, or dropped when a second clone already brought `new`.
        let moved = sqlx::query(
            "UPDATE repos SET id = $2 WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM repos r WHERE r.id = $2)",
        )
        .bind(old)
        .bind(new)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            sqlx::query("DELETE FROM repos WHERE id = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        // The path is this machine's clone only when it was read here: on a shared database,
        // other machines' paths are rekeyed too (from their remote), and are not clones here.
        if clone_here {
            sqlx::query(
                "INSERT INTO repo_clones (machine, path, repo, seen_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (machine, path) DO UPDATE SET repo = excluded.repo",
            )
            .bind(self.machine())
            .bind(old)
            .bind(new)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        // A repo budget names its repo by key.
        sqlx::query("UPDATE budgets SET target = $2 WHERE scope = 'repo' AND target = $1")
            .bind(old)
            .bind(new)
            .execute(&mut *tx)
            .await?;

        // Local change ids first (`local:<old>:<branch>` → `local:<new>:<branch>`), so the
        // `repo` pass below sees each change once.
        let old_prefix = format!("local:{old}:");
        let new_prefix = format!("local:{new}:");
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM change_requests WHERE repo = $1 AND kind = 'local'")
                .bind(old)
                .fetch_all(&mut *tx)
                .await?;
        for id in ids {
            let Some(branch) = id.strip_prefix(&old_prefix) else {
                continue;
            };
            let to = format!("{new_prefix}{branch}");
            // A second clone already brought the change under its new id: the old rows are the
            // same facts and go, except history (reviews, actions), which is only renamed.
            let exists: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM change_requests WHERE id = $1")
                    .bind(&to)
                    .fetch_one(&mut *tx)
                    .await?;
            for (table, column, unique) in CHANGE_ID_COLUMNS {
                // Table and column names come from the fixed list above, never from input.
                if exists > 0 && *unique {
                    let r = sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    done.merged += r.rows_affected();
                } else {
                    let r = sqlx::query(&format!(
                        "UPDATE {table} SET {column} = $2 WHERE {column} = $1"
                    ))
                    .bind(&id)
                    .bind(&to)
                    .execute(&mut *tx)
                    .await?;
                    done.rows += r.rows_affected();
                }
            }
        }

        let mut commits_merged = false;
        for (table, key) in REPO_TABLES {
            if !key.is_empty() {
                let same = key
                    .iter()
                    .map(|c| format!("n.{c} = {table}.{c}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let r = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE repo = $1 AND EXISTS (SELECT 1 FROM {table} n
                       WHERE n.repo = $2 AND {same})"
                ))
                .bind(old)
                .bind(new)
                .execute(&mut *tx)
                .await?;
                done.merged += r.rows_affected();
                commits_merged |= *table == "commits" && r.rows_affected() > 0;
            }
            let r = sqlx::query(&format!("UPDATE {table} SET repo = $2 WHERE repo = $1"))
                .bind(old)
                .bind(new)
                .execute(&mut *tx)
                .await?;
            done.rows += r.rows_affected();
        }
        // Commits dropped as a second clone's copies were counted twice in the weekly sums.
        if commits_merged {
            super::rollups::rebuild_commit_weeks_in(&mut tx, None).await?;
        }
        // The git cursor was keyed by the path, which stays this clone's path: nothing to move.
        tx.commit().await?;
        Ok(done)
    }
}
