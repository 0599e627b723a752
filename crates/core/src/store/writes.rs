//! Upserts, each keyed on the natural key of its table, so a re-run ingest changes rows in place.

use sqlx::{Any, Transaction};

use super::Store;
use crate::model::audit::{self, AuditKey, Decision, DeviceMark};
use crate::model::error::{Error, Result};
use crate::model::ChangeState;
use crate::model::*;

/// 1 when a diffstat is wholly known: a part without the rest is not one.
fn diffstat_known(files: Option<i64>, added: Option<i64>, removed: Option<i64>) -> i64 {
    (files.is_some() && added.is_some() && removed.is_some()) as i64
}

impl Store {
    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// waiting for another process's writer under the busy timeout: a deferred transaction
    /// that read first would fail at its first write with "database is locked" whenever another
    /// process had written since, and no timeout waits for that.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend() {
            super::Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            super::Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Upserts commits in one transaction, many rows per statement (an ingest writes thousands
    /// at once).
    pub async fn upsert_commits(&self, commits: &[Commit]) -> Result<()> {
        const COLS: usize = 12;
        // One statement may not touch a row twice (PostgreSQL refuses): drop repeats first.
        let mut seen = std::collections::HashSet::new();
        let commits: Vec<&Commit> = commits
            .iter()
            .filter(|c| seen.insert((c.repo.as_str(), c.sha.as_str())))
            .collect();
        let backend = self.backend();
        let mut tx = self.begin().await?;
        for chunk in commits.chunks(80) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p: Vec<String> = (1..=COLS)
                        .map(|k| super::placeholder(backend, i * COLS + k))
                        .collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO commits (repo, sha, author_name, author_email, authored_at, committed_at,
                   summary, agent, files_changed, insertions, deletions, diffstat_known)
                 VALUES {}
                 ON CONFLICT (repo, sha) DO UPDATE SET
                   agent = COALESCE(excluded.agent, commits.agent),
                   summary = excluded.summary,
                   files_changed = CASE WHEN excluded.diffstat_known = 1
                     THEN excluded.files_changed ELSE commits.files_changed END,
                   insertions = CASE WHEN excluded.diffstat_known = 1
                     THEN excluded.insertions ELSE commits.insertions END,
                   deletions = CASE WHEN excluded.diffstat_known = 1
                     THEN excluded.deletions ELSE commits.deletions END,
                   diffstat_known = CASE WHEN excluded.diffstat_known = 1
                     THEN 1 ELSE commits.diffstat_known END",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q
                    .bind(&c.repo)
                    .bind(&c.sha)
                    .bind(&c.author_name)
                    .bind(&c.author_email)
                    .bind(c.authored_at)
                    .bind(c.committed_at)
                    .bind(&c.summary)
                    .bind(&c.agent)
                    .bind(c.files_changed.unwrap_or(0))
                    .bind(c.insertions.unwrap_or(0))
                    .bind(c.deletions.unwrap_or(0))
                    .bind(diffstat_known(c.files_changed, c.insertions, c.deletions));
            }
            q.execute(&mut *tx).await?;
        }
        // A commit's time is part of its sha, so an upsert never moves one between weeks.
        let weeks = commits
            .iter()
            .filter_map(|c| super::rollups::week_of(c.committed_at))
            .collect();
        super::rollups::rebuild_commit_weeks_in(&mut tx, Some(&weeks)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn upsert_agent_run(&self, r: &AgentRun) -> Result<()> {
        let mut tx = self.begin().await?;
        upsert_agent_run_in(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn upsert_change_request(&self, c: &ChangeRequest) -> Result<()> {
        let (author_kind, author) = match &c.author {
            Author::Human { name } => ("human", name.as_str()),
            Author::Agent { agent } => ("agent", agent.as_str()),
        };
        let kind = c.kind.as_str();
        // A local change the lead merged or closed keeps that state while its branch stays at
        // the head it was settled at; the scan reports every branch as open.
        sqlx::query(
            "INSERT INTO change_requests (id, kind, repo, title, head, base, head_sha, author_kind,
               author, state, created_at, updated_at, commits, files_changed, insertions, deletions,
               labels, requested_reviewers, mergeable, merged_at, first_commit_at, diffstat_known)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
               $18, $19, $20, $21, $22)
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, head_sha = excluded.head_sha,
               author_kind = excluded.author_kind, author = excluded.author,
               state = CASE WHEN change_requests.settled_sha = excluded.head_sha
                 THEN change_requests.state ELSE excluded.state END,
               updated_at = excluded.updated_at,
               commits = excluded.commits,
               files_changed = CASE WHEN excluded.diffstat_known = 1
                 OR change_requests.head_sha <> excluded.head_sha
                 THEN excluded.files_changed ELSE change_requests.files_changed END,
               insertions = CASE WHEN excluded.diffstat_known = 1
                 OR change_requests.head_sha <> excluded.head_sha
                 THEN excluded.insertions ELSE change_requests.insertions END,
               deletions = CASE WHEN excluded.diffstat_known = 1
                 OR change_requests.head_sha <> excluded.head_sha
                 THEN excluded.deletions ELSE change_requests.deletions END,
               diffstat_known = CASE WHEN excluded.diffstat_known = 1
                 OR change_requests.head_sha <> excluded.head_sha
                 THEN excluded.diffstat_known ELSE change_requests.diffstat_known END,
               labels = excluded.labels, requested_reviewers = excluded.requested_reviewers,
               mergeable = excluded.mergeable,
               merged_at = COALESCE(change_requests.merged_at, excluded.merged_at),
               first_commit_at = CASE WHEN excluded.first_commit_at IS NOT NULL
                 AND (change_requests.first_commit_at IS NULL
                   OR excluded.first_commit_at < change_requests.first_commit_at)
                 THEN excluded.first_commit_at ELSE change_requests.first_commit_at END",
        )
        .bind(&c.id)
        .bind(kind)
        .bind(&c.repo)
        .bind(&c.title)
        .bind(&c.head)
        .bind(&c.base)
        .bind(&c.head_sha)
        .bind(author_kind)
        .bind(author)
        .bind(c.state.as_str())
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.commits)
        .bind(c.files_changed.unwrap_or(0))
        .bind(c.insertions.unwrap_or(0))
        .bind(c.deletions.unwrap_or(0))
        .bind(serde_json::to_string(&c.labels).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&c.requested_reviewers).unwrap_or_else(|_| "[]".into()))
        .bind(c.mergeable.map(|m| m.as_str()))
        .bind(c.merged_at)
        .bind(c.first_commit_at)
        .bind(diffstat_known(c.files_changed, c.insertions, c.deletions))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that the lead merged or closed change `id`. With `head_sha` (local branches) the
    /// state holds at that head across rescans (see `upsert_change_request`); without it the
    /// forge's next answer replaces it. A merge keeps its first time, `at`.
    pub async fn settle_change(
        &self,
        id: &str,
        state: ChangeState,
        head_sha: Option<&str>,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE change_requests SET state = $1, settled_sha = $2,
               merged_at = CASE WHEN $1 = 'merged' THEN COALESCE(merged_at, $4) ELSE merged_at END
             WHERE id = $3",
        )
        .bind(state.as_str())
        .bind(head_sha)
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the commit change request `id`'s merge put on its base (see migration 22).
    pub async fn set_merge_sha(&self, id: &str, sha: &str) -> Result<()> {
        sqlx::query("UPDATE change_requests SET merge_sha = $1 WHERE id = $2")
            .bind(sha)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn upsert_check(&self, c: &Check) -> Result<()> {
        sqlx::query(
            "INSERT INTO checks (change_request, name, status, conclusion, url, ever_failed)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (change_request, name) DO UPDATE SET status = excluded.status,
               conclusion = excluded.conclusion, url = excluded.url,
               ever_failed = CASE WHEN checks.ever_failed = 1 OR excluded.ever_failed = 1
                 THEN 1 ELSE 0 END",
        )
        .bind(&c.change_request)
        .bind(&c.name)
        .bind(&c.status)
        .bind(&c.conclusion)
        .bind(&c.url)
        .bind((c.ever_failed || c.failed()) as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn upsert_deployment(&self, d: &Deployment) -> Result<()> {
        sqlx::query(
            "INSERT INTO deployments (id, repo, environment, sha, status, created_at, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, sha = excluded.sha,
               created_at = excluded.created_at",
        )
        .bind(&d.id)
        .bind(&d.repo)
        .bind(&d.environment)
        .bind(&d.sha)
        .bind(d.status.as_str())
        .bind(d.created_at)
        .bind(&d.source)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn upsert_release(&self, r: &Release) -> Result<()> {
        sqlx::query(
            "INSERT INTO releases (id, repo, environment, name, state, created_at, approved_by,
               sha, run_id, decided_at, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state,
               approved_by = excluded.approved_by, name = excluded.name, sha = excluded.sha,
               run_id = excluded.run_id, decided_at = excluded.decided_at,
               reason = excluded.reason",
        )
        .bind(&r.id)
        .bind(&r.repo)
        .bind(&r.environment)
        .bind(&r.name)
        .bind(r.state.as_str())
        .bind(r.created_at)
        .bind(&r.approved_by)
        .bind(&r.sha)
        .bind(r.run_id)
        .bind(r.decided_at)
        .bind(&r.reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn upsert_experiment(&self, e: &Experiment) -> Result<()> {
        let mut tx = self.begin().await?;
        upsert_experiment_in(&mut tx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn upsert_spend(&self, s: &SpendRecord) -> Result<()> {
        let mut tx = self.begin().await?;
        upsert_spend_in(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces every spend record of one source (a recomputation from logs is total, so rows
    /// whose runs vanished must go too).
    pub async fn replace_spend_source(&self, source: &str, records: &[SpendRecord]) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM spend_records WHERE source = $1")
            .bind(source)
            .execute(&mut *tx)
            .await?;
        for r in records {
            upsert_spend_in(&mut tx, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Inserts or replaces a work item and its links.
    pub async fn upsert_work_item(&self, w: &WorkItem) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO work_items (id, title, body, repo, assignee, state, source, created_at,
               updated_at, labels)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body,
               repo = excluded.repo, assignee = excluded.assignee, state = excluded.state,
               source = excluded.source, updated_at = excluded.updated_at,
               labels = excluded.labels",
        )
        .bind(&w.id)
        .bind(&w.title)
        .bind(&w.body)
        .bind(&w.repo)
        .bind(&w.assignee)
        .bind(w.state.as_str())
        .bind(w.source.as_str())
        .bind(w.created_at)
        .bind(w.updated_at)
        .bind(serde_json::to_string(&w.labels).unwrap_or_else(|_| "[]".into()))
        .execute(&mut *tx)
        .await?;
        for l in &w.links {
            sqlx::query(
                "INSERT INTO work_links (work_item, kind, target) VALUES ($1, $2, $3)
                 ON CONFLICT (work_item, kind, target) DO NOTHING",
            )
            .bind(&w.id)
            .bind(l.kind.as_str())
            .bind(&l.target)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a work item and its links.
    pub async fn delete_work_item(&self, id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM work_links WHERE work_item = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM work_items WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_cursor(&self, source: &str, key: &str, position: &str, at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO ingest_cursors (source, key, position, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (source, key) DO UPDATE SET position = excluded.position,
               updated_at = excluded.updated_at",
        )
        .bind(source)
        .bind(key)
        .bind(position)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Store {
    /// Appends an audit entry chained to the previous one by SHA-256 and signed with `key`, so
    /// any later edit, removal or reordering is found by `audit::verify`. Two instances sharing
    /// one database may race for the next sequence number; the loser reads the new tail and
    /// tries again.
    pub async fn append_audit(&self, key: &AuditKey, d: &Decision<'_>) -> Result<AuditEntry> {
        self.append_audit_by(key, d, None).await
    }

    /// Appends an entry carrying a paired device's key and, for a decision the device signed,
    /// its signature of `d.detail` (see `model::device`).
    pub async fn append_audit_by(
        &self,
        key: &AuditKey,
        d: &Decision<'_>,
        device: Option<DeviceMark<'_>>,
    ) -> Result<AuditEntry> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_append_audit(key, d, device).await {
                Err(Error::Db(e)) if attempt < ATTEMPTS && is_conflict(&e) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt as u64)).await;
                }
                other => {
                    let entry = other?;
                    key.record(&self.target().identity(), entry.seq, &entry.hash)?;
                    return Ok(entry);
                }
            }
        }
    }

    async fn try_append_audit(
        &self,
        key: &AuditKey,
        d: &Decision<'_>,
        device: Option<DeviceMark<'_>>,
    ) -> Result<AuditEntry> {
        let (device_key, device_signature) = device.map_or(("", ""), |m| (m.key, m.signature));
        let mut tx = self.begin().await?;
        // Instances on one PostgreSQL extend the chain one at a time: racing for the next
        // number, a busy team's appends ran out of retries.
        super::rollups::lock_named(&mut tx, "audit chain").await?;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, String::new()),
        };
        let hash = audit::entry_hash_with(&prev_hash, seq, d, device_key, device_signature);
        let entry = AuditEntry {
            seq,
            at: d.at,
            actor: d.actor.into(),
            action: d.action.into(),
            target: d.target.into(),
            detail: d.detail.into(),
            signer: key.public_hex(),
            signature: key.sign(&hash),
            prev_hash,
            hash,
            device_key: device_key.into(),
            device_signature: device_signature.into(),
        };
        sqlx::query(
            "INSERT INTO audit_entries
               (seq, at, actor, action, target, detail, prev_hash, hash, signer, signature,
                device_key, device_signature)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(entry.seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .bind(&entry.signer)
        .bind(&entry.signature)
        .bind(&entry.device_key)
        .bind(&entry.device_signature)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(entry)
    }
}

/// A write that lost a race: another writer took the key (unique violation) or held the lock.
fn is_conflict(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.message().contains("locked")
                || d.message().contains("busy")
        }
        _ => false,
    }
}

pub(crate) async fn upsert_agent_run_in(
    tx: &mut Transaction<'static, Any>,
    r: &AgentRun,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_runs (id, agent, session_id, model, cwd, repo, branch, title,
           started_at, ended_at, state, turns, tool_calls, input_tokens, output_tokens,
           cache_write_tokens, cache_read_tokens, reasoning_tokens, cost_usd, source_path,
           skipped_lines, errors, files_touched, models)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
           $18, $19, $20, $21, $22, $23, $24)
         ON CONFLICT (id) DO UPDATE SET model = excluded.model, cwd = excluded.cwd,
           repo = excluded.repo, branch = excluded.branch, title = excluded.title,
           started_at = excluded.started_at, ended_at = excluded.ended_at,
           state = excluded.state, turns = excluded.turns, tool_calls = excluded.tool_calls,
           input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
           cache_write_tokens = excluded.cache_write_tokens,
           cache_read_tokens = excluded.cache_read_tokens,
           reasoning_tokens = excluded.reasoning_tokens, cost_usd = excluded.cost_usd,
           source_path = excluded.source_path, skipped_lines = excluded.skipped_lines,
           errors = excluded.errors, files_touched = excluded.files_touched,
           models = excluded.models",
    )
    .bind(&r.id)
    .bind(&r.agent)
    .bind(&r.session_id)
    .bind(&r.model)
    .bind(&r.cwd)
    .bind(&r.repo)
    .bind(&r.branch)
    .bind(&r.title)
    .bind(r.started_at)
    .bind(r.ended_at)
    .bind(r.state.as_str())
    .bind(r.turns)
    .bind(r.tool_calls)
    .bind(r.tokens.input)
    .bind(r.tokens.output)
    .bind(r.tokens.cache_write)
    .bind(r.tokens.cache_read)
    .bind(r.tokens.reasoning)
    .bind(r.cost_usd)
    .bind(&r.source_path)
    .bind(r.skipped_lines)
    .bind(r.errors)
    .bind(r.files_touched)
    .bind(r.models.join(","))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Replaces the paths a change request touches at `head_sha`.
    pub async fn set_change_files(
        &self,
        change: &str,
        head_sha: &str,
        paths: &[String],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM change_files WHERE change_request = $1")
            .bind(change)
            .execute(&mut *tx)
            .await?;
        for p in paths {
            sqlx::query(
                "INSERT INTO change_files (change_request, head_sha, path) VALUES ($1, $2, $3)
                 ON CONFLICT (change_request, path) DO NOTHING",
            )
            .bind(change)
            .bind(head_sha)
            .bind(p)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Inserts or replaces one rollup row inside `tx`.
pub(crate) async fn upsert_spend_in(
    tx: &mut Transaction<'static, Any>,
    s: &SpendRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO spend_records (vendor, model, day, source, agent, repo, input_tokens,
           output_tokens, cache_write_tokens, cache_read_tokens, reasoning_tokens, cost_usd,
           unpriced_tokens, person)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (vendor, model, day, source, agent, repo, person) DO UPDATE SET
           input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
           cache_write_tokens = excluded.cache_write_tokens,
           cache_read_tokens = excluded.cache_read_tokens,
           reasoning_tokens = excluded.reasoning_tokens, cost_usd = excluded.cost_usd,
           unpriced_tokens = excluded.unpriced_tokens",
    )
    .bind(&s.vendor)
    .bind(&s.model)
    .bind(&s.day)
    .bind(&s.source)
    .bind(&s.agent)
    .bind(&s.repo)
    .bind(s.tokens.input)
    .bind(s.tokens.output)
    .bind(s.tokens.cache_write)
    .bind(s.tokens.cache_read)
    .bind(s.tokens.reasoning)
    .bind(s.cost_usd)
    .bind(s.unpriced_tokens)
    .bind(&s.person)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Replaces the stored diff of a change request: its files as JSON, of `head_sha`, fetched
    /// at `fetched_at`.
    pub async fn set_change_patches(
        &self,
        change: &str,
        head_sha: &str,
        fetched_at: i64,
        files_json: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO change_patches (change_request, head_sha, fetched_at, files)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (change_request) DO UPDATE SET head_sha = excluded.head_sha,
               fetched_at = excluded.fetched_at, files = excluded.files",
        )
        .bind(change)
        .bind(head_sha)
        .bind(fetched_at)
        .bind(files_json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored diff of a change request: its head, when it was fetched, its files as JSON.
    pub async fn change_patches(&self, change: &str) -> Result<Option<(String, i64, String)>> {
        let row = sqlx::query(
            "SELECT head_sha, fetched_at, files FROM change_patches WHERE change_request = $1",
        )
        .bind(change)
        .fetch_optional(&self.pool)
        .await?;
        use sqlx::Row;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()
    }
}

/// The experiment row and its variations (upserted; `started_at` kept from the first).
pub(crate) async fn upsert_experiment_in(
    tx: &mut Transaction<'static, Any>,
    e: &Experiment,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO experiments (id, name, metric, state, started_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, metric = excluded.metric,
           state = CASE WHEN experiments.decision IS NULL THEN excluded.state
             ELSE experiments.state END",
    )
    .bind(&e.id)
    .bind(&e.name)
    .bind(&e.metric)
    .bind(e.state.as_str())
    .bind(e.started_at)
    .execute(&mut **tx)
    .await?;
    for (position, v) in e.variants.iter().enumerate() {
        sqlx::query(
            "INSERT INTO experiment_variants (experiment, name, units, conversions, weight,
               position)
             VALUES ($1, $2, $3, $4, CASE WHEN $7 = 1 THEN $5 END, $6)
             ON CONFLICT (experiment, name) DO UPDATE SET units = excluded.units,
               conversions = excluded.conversions, weight = excluded.weight,
               position = excluded.position",
        )
        .bind(&e.id)
        .bind(&v.name)
        .bind(v.units)
        .bind(v.conversions)
        // A bound NULL would fix the parameter's type (see `replace_experiment`).
        .bind(v.weight.unwrap_or_default())
        .bind(position as i64)
        .bind(i64::from(v.weight.is_some()))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
