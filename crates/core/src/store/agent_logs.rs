//! Agent-log storage: file cursors, billed usage records (deduplicated on their natural key),
//! per-file session facts, and the derived `agent_runs` and log-based spend.
//!
//! Every batch of lines is committed in one transaction together with the file's cursor, so an
//! ingest killed at any point resumes exactly where its last commit ended.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::Row;

use super::{placeholder, tokens_of, Backend, Store, UNPRICED_SUM, USAGE_SUMS};
use crate::model::error::Result;
use crate::model::logs::Cursor;
use crate::model::logs::{Batch, LastEvent, UsageRecord};
use crate::model::pricing::{vendor_of, PriceTable};
use crate::model::{AgentRun, RunState, SpendRecord, Tokens};

/// A log that grew within this many seconds is running.
pub const RUNNING_WINDOW_SECS: i64 = 300;
/// A session waiting for its user counts as idle (needs you) for this long.
pub const IDLE_WINDOW_SECS: i64 = 24 * 3600;

impl Store {
    /// Every file cursor, by path: one query per pass instead of one per file.
    pub async fn log_cursors(&self) -> Result<HashMap<String, Cursor>> {
        let rows = sqlx::query(
            "SELECT path, inode, mtime_ns, head_len, head_hash, byte_offset, line_no,
               skipped_lines, parser_state FROM log_files",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("path")?,
                    Cursor {
                        inode: r.try_get("inode")?,
                        mtime_ns: r.try_get("mtime_ns")?,
                        head_len: r.try_get("head_len")?,
                        head_hash: r.try_get("head_hash")?,
                        offset: r.try_get("byte_offset")?,
                        line_no: r.try_get("line_no")?,
                        skipped: r.try_get("skipped_lines")?,
                        state: Some(r.try_get("parser_state")?),
                    },
                ))
            })
            .collect()
    }

    /// Forgets everything read from `path` (it was truncated, rotated or rewritten); another
    /// copy of a forgotten record, if one exists, becomes the one that counts. Returns the
    /// sessions whose runs must be rebuilt.
    pub async fn forget_log_file(&self, agent: &str, path: &str) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let mut sessions: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT session_id FROM session_facts WHERE agent = $1 AND file = $2",
        )
        .bind(agent)
        .bind(path)
        .fetch_all(&mut *tx)
        .await?;
        let groups: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT DISTINCT message_id, entry_key, session_id FROM usage_entries
             WHERE agent = $1 AND file = $2",
        )
        .bind(agent)
        .bind(path)
        .fetch_all(&mut *tx)
        .await?;
        for table in ["usage_entries", "session_facts"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE agent = $1 AND file = $2"
            ))
            .bind(agent)
            .bind(path)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM log_files WHERE path = $1")
            .bind(path)
            .execute(&mut *tx)
            .await?;
        for (message_id, key, session) in groups {
            sessions.push(session);
            sessions.extend(resolve_copies(&mut tx, agent, &message_id, &key).await?);
        }
        tx.commit().await?;
        sessions.sort();
        sessions.dedup();
        Ok(sessions)
    }

    /// Writes one parsed batch of `path` and its new cursor, atomically. Returns sessions other
    /// than the batch's own whose counted records changed (a copy here replaced theirs).
    pub async fn commit_log_batch(
        &self,
        agent: &str,
        path: &str,
        batch: &Batch,
        cursor: &Cursor,
        stamp: &Stamp<'_>,
        now: i64,
    ) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let mut others = Vec::new();
        // Copies inside one file are forgotten together, so only the best of them is kept (a
        // final line beats its streaming snapshot); copies across files all go to the store.
        let mut best: HashMap<&str, &UsageRecord> = HashMap::new();
        for r in &batch.records {
            match best.get(r.key.as_str()) {
                Some(b) if !better_copy(r, b) => {}
                _ => {
                    best.insert(&r.key, r);
                }
            }
        }
        let mut records: Vec<&UsageRecord> = best.into_values().collect();
        records.sort_by_key(|r| r.line);
        // A record whose group (message id, or key without one) has another copy — already
        // stored, or another key in this batch — goes through `resolve_copies`; the rest count.
        let group = |r: &UsageRecord| -> Group {
            if r.message_id.is_empty() {
                (false, r.key.clone())
            } else {
                (true, r.message_id.clone())
            }
        };
        let mut in_batch: HashMap<Group, usize> = HashMap::new();
        for r in &records {
            *in_batch.entry(group(r)).or_default() += 1;
        }
        let backend = self.backend();
        let stored = existing_groups(&mut tx, backend, agent, in_batch.keys()).await?;
        let (fresh, conflicting): (Vec<&UsageRecord>, Vec<&UsageRecord>) =
            records.iter().partition(|r| {
                let g = group(r);
                in_batch.get(&g) == Some(&1) && !stored.contains(&g)
            });
        insert_usage(&mut tx, backend, agent, path, &fresh, true, stamp).await?;
        insert_usage(&mut tx, backend, agent, path, &conflicting, false, stamp).await?;
        let mut groups: HashSet<Group> = conflicting.iter().map(|r| group(r)).collect();
        for r in &conflicting {
            // Once per group: resolving looks at every copy of it.
            if groups.remove(&group(r)) {
                others.extend(resolve_copies(&mut tx, agent, &r.message_id, &r.key).await?);
            }
        }
        for (sid, f) in &batch.sessions {
            sqlx::query(
                "INSERT INTO session_facts (agent, session_id, file, cwd, branch, title, started_at,
                   ended_at, turns, tool_calls, errors, last_event)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (agent, session_id, file) DO UPDATE SET
                   cwd = COALESCE(session_facts.cwd, excluded.cwd),
                   branch = COALESCE(excluded.branch, session_facts.branch),
                   title = COALESCE(session_facts.title, excluded.title),
                   started_at = CASE WHEN session_facts.started_at = 0
                       OR (excluded.started_at <> 0 AND excluded.started_at < session_facts.started_at)
                     THEN excluded.started_at ELSE session_facts.started_at END,
                   ended_at = CASE WHEN excluded.ended_at > session_facts.ended_at
                     THEN excluded.ended_at ELSE session_facts.ended_at END,
                   turns = session_facts.turns + excluded.turns,
                   tool_calls = session_facts.tool_calls + excluded.tool_calls,
                   errors = session_facts.errors + excluded.errors,
                   last_event = excluded.last_event",
            )
            .bind(agent)
            .bind(sid)
            .bind(path)
            .bind(&f.cwd)
            .bind(&f.branch)
            .bind(&f.title)
            .bind(f.started_at)
            .bind(f.ended_at)
            .bind(f.turns)
            .bind(f.tool_calls)
            .bind(f.errors)
            .bind(f.last_event.as_str())
            .execute(&mut *tx)
            .await?;
            let files: Vec<&String> = f.files.iter().collect();
            for chunk in files.chunks(200) {
                let rows: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let b = i * 3;
                        format!(
                            "({}, {}, {})",
                            placeholder(backend, b + 1),
                            placeholder(backend, b + 2),
                            placeholder(backend, b + 3)
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO session_files (agent, session_id, path) VALUES {}
                     ON CONFLICT (agent, session_id, path) DO NOTHING",
                    rows.join(", ")
                );
                let mut q = sqlx::query(&sql);
                for file in chunk {
                    q = q.bind(agent).bind(sid).bind(*file);
                }
                q.execute(&mut *tx).await?;
            }
        }
        sqlx::query(
            "INSERT INTO log_files (path, agent, inode, head_len, head_hash, byte_offset, line_no,
               skipped_lines, parser_state, updated_at, mtime_ns)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, mtime_ns = excluded.mtime_ns,
               head_len = excluded.head_len, head_hash = excluded.head_hash,
               byte_offset = excluded.byte_offset, line_no = excluded.line_no,
               skipped_lines = excluded.skipped_lines, parser_state = excluded.parser_state,
               updated_at = excluded.updated_at",
        )
        .bind(path)
        .bind(agent)
        .bind(&cursor.inode)
        .bind(cursor.head_len)
        .bind(&cursor.head_hash)
        .bind(cursor.offset)
        .bind(cursor.line_no)
        .bind(cursor.skipped)
        .bind(cursor.state.as_deref().unwrap_or("{}"))
        .bind(now)
        .bind(cursor.mtime_ns)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        others.sort();
        others.dedup();
        Ok(others)
    }

    /// Rebuilds the runs of these sessions from their facts and usage records, a few hundred
    /// sessions per query. `repo_of` maps a working directory to the watched repo it lies in.
    pub async fn rebuild_runs(
        &self,
        sessions: &[(String, String)],
        repo_of: &(dyn Fn(&str) -> Option<String> + Sync),
        now: i64,
    ) -> Result<()> {
        let backend = self.backend();
        // Per agent, `session_id IN (..)`: the indexes lead with (agent, session_id), and a
        // row-value IN over both columns made SQLite scan whole tables.
        let mut by_agent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (agent, session) in sessions {
            by_agent.entry(agent).or_default().push(session);
        }
        for (agent, ids) in by_agent {
            for ids in ids.chunks(300) {
                let list: Vec<String> = (0..ids.len())
                    .map(|i| placeholder(backend, i + 2))
                    .collect();
                let set = format!(
                    "{} AND session_id IN ({})",
                    placeholder(backend, 1),
                    list.join(", ")
                );
                fn bind_all<'q>(
                    sql: &'q str,
                    agent: &'q str,
                    ids: &'q [&'q str],
                ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>
                {
                    let mut q = sqlx::query(sql).bind(agent);
                    for id in ids {
                        q = q.bind(*id);
                    }
                    q
                }
                let facts_sql = format!(
                "SELECT agent, session_id, file, cwd, branch, title, started_at, ended_at, turns,
                   tool_calls, errors, last_event FROM session_facts
                 WHERE agent = {set} ORDER BY agent, session_id, started_at, file"
            );
                let set_u = set.replace("session_id IN", "u.session_id IN");
                let usage_sql = format!(
                    "SELECT u.agent, u.session_id, u.model, {USAGE_SUMS} FROM usage_entries u
                 WHERE u.canonical = 1 AND u.agent = {set_u}
                 GROUP BY u.agent, u.session_id, u.model ORDER BY u.agent, u.session_id, u.model"
                );
                let files_sql = format!(
                    "SELECT agent, session_id, COUNT(*) AS n FROM session_files
                 WHERE agent = {set} GROUP BY agent, session_id"
                );
                let skipped_sql = format!(
                    "SELECT f.agent, f.session_id, CAST(SUM(l.skipped_lines) AS BIGINT) AS n
                 FROM (SELECT DISTINCT agent, session_id, file FROM session_facts
                       WHERE agent = {set}) f
                 JOIN log_files l ON l.path = f.file GROUP BY f.agent, f.session_id"
                );
                let facts = bind_all(&facts_sql, agent, ids)
                    .fetch_all(&self.pool)
                    .await?;
                let usage = bind_all(&usage_sql, agent, ids)
                    .fetch_all(&self.pool)
                    .await?;
                let mut counts: HashMap<(String, String), (i64, i64)> = HashMap::new();
                for (sql, slot) in [(&files_sql, 0), (&skipped_sql, 1)] {
                    for r in bind_all(sql, agent, ids).fetch_all(&self.pool).await? {
                        let e = counts
                            .entry((r.try_get("agent")?, r.try_get("session_id")?))
                            .or_default();
                        let n: i64 = r.try_get("n")?;
                        if slot == 0 {
                            e.0 = n;
                        } else {
                            e.1 = n;
                        }
                    }
                }
                let mut by_session: HashMap<(String, String), SessionRows> = HashMap::new();
                for r in &facts {
                    by_session
                        .entry((r.try_get("agent")?, r.try_get("session_id")?))
                        .or_default()
                        .0
                        .push(r);
                }
                for r in &usage {
                    by_session
                        .entry((r.try_get("agent")?, r.try_get("session_id")?))
                        .or_default()
                        .1
                        .push(r);
                }
                let mut tx = self.begin().await?;
                for session in ids {
                    let key = (agent.to_string(), session.to_string());
                    let (f, u) = by_session.remove(&key).unwrap_or_default();
                    let (files, skipped) = counts.get(&key).copied().unwrap_or_default();
                    match assemble_run(agent, session, &f, &u, files, skipped, repo_of, now)? {
                        Some(run) => super::writes::upsert_agent_run_in(&mut tx, &run).await?,
                        None => {
                            sqlx::query("DELETE FROM agent_runs WHERE id = $1")
                                .bind(format!("{agent}:{session}"))
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Prices every usage record again with `prices` (the table or the user's prices changed)
    /// and the cost of every run with it. Returns how many records changed.
    pub async fn reprice_usage(&self, prices: &PriceTable) -> Result<u64> {
        use futures_util::TryStreamExt;
        let mut changed: Vec<(String, String, i64, f64, i64)> = Vec::new();
        {
            let mut rows = sqlx::query(
                "SELECT agent, file, line_no, day, model, input_tokens, output_tokens,
                   cache_write_tokens, cache_write_1h_tokens, cache_read_tokens,
                   reasoning_tokens, cost_usd, priced
                 FROM usage_entries",
            )
            .fetch(&self.pool);
            while let Some(r) = rows.try_next().await? {
                let model: String = r.try_get("model")?;
                let day: String = r.try_get("day")?;
                let cost = prices.cost_on(
                    &model,
                    &tokens_of(&r)?,
                    r.try_get("cache_write_1h_tokens")?,
                    &day,
                );
                let (new_cost, new_priced) = (cost.unwrap_or(0.0), cost.is_some() as i64);
                let (old_cost, old_priced): (f64, i64) =
                    (r.try_get("cost_usd")?, r.try_get("priced")?);
                if (new_cost - old_cost).abs() > 1e-12 || new_priced != old_priced {
                    changed.push((
                        r.try_get("agent")?,
                        r.try_get("file")?,
                        r.try_get("line_no")?,
                        new_cost,
                        new_priced,
                    ));
                }
            }
        }
        if changed.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        for (agent, file, line, cost, priced) in &changed {
            sqlx::query(
                "UPDATE usage_entries SET cost_usd = $1, priced = $2
                 WHERE agent = $3 AND file = $4 AND line_no = $5",
            )
            .bind(cost)
            .bind(priced)
            .bind(agent)
            .bind(file)
            .bind(line)
            .execute(&mut *tx)
            .await?;
        }
        // A run costs what its counted requests cost (as `assemble_run` sums them).
        sqlx::query(
            "UPDATE agent_runs SET cost_usd = CAST(COALESCE((SELECT SUM(u.cost_usd)
               FROM usage_entries u WHERE u.agent = agent_runs.agent
                 AND u.session_id = agent_runs.session_id AND u.canonical = 1), 0)
               AS DOUBLE PRECISION)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(changed.len() as u64)
    }

    /// Recomputes the spend derived from agent logs: per day, model, agent and repo.
    pub async fn rebuild_log_spend(&self, prices: &PriceTable) -> Result<()> {
        self.rebuild_log_spend_days(prices, None).await
    }

    /// The days holding usage read from one log file.
    pub async fn days_of_file(&self, agent: &str, path: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT day FROM usage_entries WHERE agent = $1 AND file = $2",
        )
        .bind(agent)
        .bind(path)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The days holding usage of these sessions (what an ingest that touched them changed).
    pub async fn days_of_sessions(&self, sessions: &[(String, String)]) -> Result<Vec<String>> {
        let mut days = std::collections::BTreeSet::new();
        for (agent, session) in sessions {
            let found: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT day FROM usage_entries WHERE agent = $1 AND session_id = $2",
            )
            .bind(agent)
            .bind(session)
            .fetch_all(&self.pool)
            .await?;
            days.extend(found);
        }
        Ok(days.into_iter().collect())
    }

    /// Recomputes the log-derived rollup for `days` only (`None`: every day), in one
    /// transaction, so a report never sees a day half rebuilt. An ingest that touched a few
    /// sessions re-aggregates a few days, however many records the store holds.
    pub async fn rebuild_log_spend_days(
        &self,
        prices: &PriceTable,
        days: Option<&[String]>,
    ) -> Result<()> {
        if days.is_some_and(|d| d.is_empty()) {
            return Ok(());
        }
        let mut records: BTreeMap<(String, String, String, String, String), SpendRecord> =
            BTreeMap::new();
        let mut tx = self.begin().await?;
        // Before the spend rows: the session rollup below is rebuilt under this lock.
        super::rollups::lock_named(&mut tx, "session_days").await?;
        for chunk in days.map_or(vec![None], |d| d.chunks(200).map(Some).collect()) {
            let filter = match chunk {
                Some(c) => format!(
                    "AND u.day IN ({})",
                    (1..=c.len())
                        .map(|i| placeholder(self.backend(), i))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => String::new(),
            };
            let sql = format!(
                "SELECT u.day, u.model, u.agent, COALESCE(r.repo, '') AS repo, u.person,
                   {USAGE_SUMS}, {UNPRICED_SUM}
                 FROM usage_entries u
                 LEFT JOIN agent_runs r ON r.agent = u.agent AND r.session_id = u.session_id
                 WHERE u.canonical = 1 {filter}
                 GROUP BY u.day, u.model, u.agent, COALESCE(r.repo, ''), u.person"
            );
            let mut q = sqlx::query(&sql);
            for d in chunk.into_iter().flatten() {
                q = q.bind(d);
            }
            for r in &q.fetch_all(&mut *tx).await? {
                let model: String = r.try_get("model")?;
                let rec = SpendRecord {
                    vendor: vendor_of(prices, &model),
                    model: if model.is_empty() {
                        "(none)".into()
                    } else {
                        model
                    },
                    day: r.try_get("day")?,
                    source: "logs".into(),
                    agent: r.try_get("agent")?,
                    repo: r.try_get("repo")?,
                    person: r.try_get("person")?,
                    tokens: tokens_of(r)?,
                    cost_usd: r.try_get("cost")?,
                    unpriced_tokens: r.try_get("unpriced_tokens")?,
                };
                let key = (
                    rec.day.clone(),
                    rec.model.clone(),
                    rec.agent.clone(),
                    rec.repo.clone(),
                    rec.person.clone(),
                );
                records.insert(key, rec);
            }
            let delete = format!(
                "DELETE FROM spend_records WHERE source = 'logs' {}",
                filter.replace("u.day", "day")
            );
            let mut q = sqlx::query(&delete);
            for d in chunk.into_iter().flatten() {
                q = q.bind(d);
            }
            q.execute(&mut *tx).await?;
            let days: Vec<String> = chunk.into_iter().flatten().cloned().collect();
            super::rollups::rebuild_session_days_in(&mut tx, &filter, &days).await?;
        }
        for r in records.values() {
            super::writes::upsert_spend_in(&mut tx, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn session_files(&self, agent: &str, session: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT path FROM session_files WHERE agent = $1 AND session_id = $2 ORDER BY path",
        )
        .bind(agent)
        .bind(session)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The log files a session was read from.
    pub async fn session_logs(&self, agent: &str, session: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT file FROM session_facts WHERE agent = $1 AND session_id = $2
             ORDER BY file",
        )
        .bind(agent)
        .bind(session)
        .fetch_all(&self.pool)
        .await?)
    }

    /// (time, model, tokens, cost) of each counted request of a session, oldest first.
    pub async fn usage_timeline(
        &self,
        agent: &str,
        session: &str,
    ) -> Result<Vec<(i64, String, i64, f64)>> {
        Ok(sqlx::query_as(
            "SELECT at, model, total_tokens, cost_usd FROM usage_entries
             WHERE agent = $1 AND session_id = $2 AND canonical = 1 ORDER BY at, file, line_no",
        )
        .bind(agent)
        .bind(session)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every (agent, session) known from logs.
    pub async fn log_sessions(&self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT agent, session_id FROM session_facts ORDER BY agent, session_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Marks which copy of a record counts, among every copy with the same message id (or, without
/// one, the same key), by ccusage's rules: a sidechain replay never counts when the main log has
/// the message; per key, the copy with the largest token total counts, the earliest read
/// (file, line) on a tie. Returns the sessions whose counted records changed.
async fn resolve_copies(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    agent: &str,
    message_id: &str,
    key: &str,
) -> Result<Vec<String>> {
    // Records without a message id are grouped by their key alone.
    let (column, value) = if message_id.is_empty() {
        ("entry_key", key)
    } else {
        ("message_id", message_id)
    };
    let rows: Vec<(String, i64, String, i64, i64, String, i64)> = sqlx::query_as(&format!(
        "SELECT file, line_no, entry_key, sidechain, total_tokens, session_id, canonical
         FROM usage_entries WHERE agent = $1 AND {column} = $2"
    ))
    .bind(agent)
    .bind(value)
    .fetch_all(&mut **tx)
    .await?;
    let has_main = rows.iter().any(|r| r.3 == 0);
    let mut best: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.3 == 1 && has_main {
            continue;
        }
        match best.get(r.2.as_str()) {
            Some(&j) => {
                let b = &rows[j];
                let better = r.4 > b.4 || (r.4 == b.4 && (r.0.as_str(), r.1) < (b.0.as_str(), b.1));
                if better {
                    best.insert(&r.2, i);
                }
            }
            None => {
                best.insert(&r.2, i);
            }
        }
    }
    let winners: std::collections::BTreeSet<usize> = best.into_values().collect();
    let mut changed = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let want = winners.contains(&i) as i64;
        if want != r.6 {
            sqlx::query(
                "UPDATE usage_entries SET canonical = $1 WHERE agent = $2 AND file = $3 AND line_no = $4",
            )
            .bind(want)
            .bind(agent)
            .bind(&r.0)
            .bind(r.1)
            .execute(&mut **tx)
            .await?;
            changed.push(r.5.clone());
        }
    }
    Ok(changed)
}

/// A group of copies: (true, message id) or, for records without one, (false, key).
type Group = (bool, String);

/// The copy that counts between two with the same key: the larger total, then the main-log one.
fn better_copy(a: &UsageRecord, b: &UsageRecord) -> bool {
    a.total() > b.total() || (a.total() == b.total() && b.sidechain && !a.sidechain)
}

/// Which of these groups (message id, or key when there is none) already have rows.
async fn existing_groups(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    agent: &str,
    groups: impl Iterator<Item = &Group>,
) -> Result<HashSet<Group>> {
    let (by_message, by_key): (Vec<&Group>, Vec<&Group>) = groups.partition(|g| g.0);
    let mut found = HashSet::new();
    for (is_message, list) in [(true, by_message), (false, by_key)] {
        let column = if is_message {
            "message_id"
        } else {
            "entry_key"
        };
        for chunk in list.chunks(400) {
            let placeholders: Vec<String> = (0..chunk.len())
                .map(|i| placeholder(backend, i + 2))
                .collect();
            let sql = format!(
                "SELECT DISTINCT {column} FROM usage_entries WHERE agent = {} AND {column} IN ({})",
                placeholder(backend, 1),
                placeholders.join(", ")
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind(agent);
            for g in chunk {
                q = q.bind(&g.1);
            }
            for v in q.fetch_all(&mut **tx).await? {
                found.insert((is_message, v));
            }
        }
    }
    Ok(found)
}

/// What each usage record is written with: its price, and who launched the work.
pub struct Stamp<'a> {
    pub prices: &'a PriceTable,
    /// The user of the machine reading the logs ('' when unknown).
    pub person: &'a str,
}

/// Inserts records many rows per statement (one round trip per 40 rows).
async fn insert_usage(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    agent: &str,
    path: &str,
    records: &[&UsageRecord],
    canonical: bool,
    stamp: &Stamp<'_>,
) -> Result<()> {
    let (prices, person) = (stamp.prices, stamp.person);
    const COLS: usize = 23;
    for chunk in records.chunks(40) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * COLS;
                let p: Vec<String> = (1..=COLS).map(|k| placeholder(backend, b + k)).collect();
                // logged_cost_usd: an optional f64 bound as NULL first makes PostgreSQL's
                // cached statement reject a later value through the Any driver, so a number and
                // a presence flag are bound instead.
                // Textual order = bind order, as SQLite's `?` needs.
                format!(
                    "({}, CASE WHEN {} = 1 THEN {} ELSE NULL END, {}, {}, {})",
                    p[..18].join(", "),
                    p[18],
                    p[19],
                    p[20],
                    p[21],
                    p[22]
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO usage_entries (agent, entry_key, message_id, sidechain, session_id,
               file, line_no, at, day, model, input_tokens, output_tokens, cache_write_tokens,
               cache_write_1h_tokens, cache_read_tokens, reasoning_tokens, total_tokens,
               cost_usd, logged_cost_usd, canonical, priced, person)
             VALUES {}
             ON CONFLICT (agent, file, line_no) DO NOTHING",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            let day = crate::model::days::of(r.at);
            let cost = prices.cost_on(&r.model, &r.tokens, r.cache_write_1h, &day);
            q = q
                .bind(agent)
                .bind(&r.key)
                .bind(&r.message_id)
                .bind(r.sidechain as i64)
                .bind(&r.session_id)
                .bind(path)
                .bind(r.line)
                .bind(r.at)
                .bind(day)
                .bind(&r.model)
                .bind(r.tokens.input)
                .bind(r.tokens.output)
                .bind(r.tokens.cache_write)
                .bind(r.cache_write_1h)
                .bind(r.tokens.cache_read)
                .bind(r.tokens.reasoning)
                .bind(r.total())
                .bind(cost.unwrap_or(0.0))
                .bind(r.logged_cost_usd.is_some() as i64)
                .bind(r.logged_cost_usd.unwrap_or(0.0))
                .bind(canonical as i64)
                .bind(cost.is_some() as i64)
                .bind(person);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A session's fact rows and usage rows, as read for `assemble_run`.
type SessionRows<'r> = (Vec<&'r sqlx::any::AnyRow>, Vec<&'r sqlx::any::AnyRow>);

/// One run from its session's fact rows (oldest first) and usage rows (by model).
#[allow(clippy::too_many_arguments)]
fn assemble_run(
    agent: &str,
    session: &str,
    facts: &[&sqlx::any::AnyRow],
    usage: &[&sqlx::any::AnyRow],
    files_touched: i64,
    skipped_lines: i64,
    repo_of: &(dyn Fn(&str) -> Option<String> + Sync),
    now: i64,
) -> Result<Option<AgentRun>> {
    if facts.is_empty() {
        return Ok(None);
    }
    let mut run = AgentRun {
        id: format!("{agent}:{session}"),
        agent: agent.to_string(),
        session_id: session.to_string(),
        model: String::new(),
        cwd: String::new(),
        repo: None,
        branch: None,
        title: String::new(),
        started_at: 0,
        ended_at: 0,
        state: RunState::Finished,
        turns: 0,
        tool_calls: 0,
        errors: 0,
        files_touched,
        models: Vec::new(),
        tokens: Tokens::default(),
        cost_usd: 0.0,
        source_path: String::new(),
        skipped_lines,
    };
    let mut last = (0i64, String::new());
    for f in facts {
        let started: i64 = f.try_get("started_at")?;
        let ended: i64 = f.try_get("ended_at")?;
        if run.source_path.is_empty() {
            run.source_path = f.try_get("file")?;
        }
        if run.cwd.is_empty() {
            run.cwd = f.try_get::<Option<String>, _>("cwd")?.unwrap_or_default();
        }
        if run.title.is_empty() {
            run.title = f.try_get::<Option<String>, _>("title")?.unwrap_or_default();
        }
        if let Some(b) = f.try_get::<Option<String>, _>("branch")? {
            run.branch = Some(b);
        }
        if started > 0 && (run.started_at == 0 || started < run.started_at) {
            run.started_at = started;
        }
        if ended >= last.0 {
            last = (ended, f.try_get("last_event")?);
        }
        run.ended_at = run.ended_at.max(ended);
        run.turns += f.try_get::<i64, _>("turns")?;
        run.tool_calls += f.try_get::<i64, _>("tool_calls")?;
        run.errors += f.try_get::<i64, _>("errors")?;
    }
    if run.title.is_empty() {
        run.title = "(no prompt)".into();
    }
    let mut main = (-1i64, String::new());
    for r in usage {
        let model: String = r.try_get("model")?;
        let t = tokens_of(r)?;
        run.tokens.add(&t);
        run.cost_usd += r.try_get::<f64, _>("cost")?;
        if !model.is_empty() {
            if t.output > main.0 {
                main = (t.output, model.clone());
            }
            run.models.push(model);
        }
    }
    run.model = main.1;
    run.repo = repo_of(&run.cwd);
    run.state = if now - run.ended_at < RUNNING_WINDOW_SECS {
        RunState::Running
    } else if last.1 == LastEvent::Error.as_str() {
        RunState::Failed
    } else if last.1 == LastEvent::Waiting.as_str() && now - run.ended_at < IDLE_WINDOW_SECS {
        RunState::Idle
    } else {
        RunState::Finished
    };
    Ok(Some(run))
}
