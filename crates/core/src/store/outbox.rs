//! The outbox's rows: actions queued, claimed by one sender at a time (with a lease, so a
//! sender that dies lets go), retried, finished; and the reviews local actions record.

use sqlx::Row;

use super::{Backend, Store};
use crate::model::error::Result;
use crate::model::{Action, Review};

/// Binds an action's columns as `$1`…`$8`, in the order both inserts name them.
fn bind_action<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    a: &'q Action,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&a.idempotency_key)
        .bind(a.kind.as_str())
        .bind(&a.target)
        .bind(&a.payload)
        .bind(&a.actor)
        .bind(a.state.as_str())
        .bind(a.created_at)
        .bind(a.next_attempt_at)
}

/// What became of queueing a merge.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeQueued {
    /// Queued: this decision merges the change.
    Queued,
    /// Its idempotency key is queued already (the same decision sent again).
    SameKey,
    /// Another merge of the change is queued or being sent: that one merges it.
    Underway(Action),
    /// The change is no longer open (merged or closed meanwhile).
    NotOpen,
}

const ACTION_COLUMNS: &str = "idempotency_key, kind, target, payload, actor, state, attempts,
    last_error, result, created_at, next_attempt_at, applied_at";

fn action(r: &sqlx::any::AnyRow) -> Result<Action> {
    Ok(Action {
        idempotency_key: r.try_get("idempotency_key")?,
        kind: super::named(r, "kind", "outbox action kind")?,
        target: r.try_get("target")?,
        payload: r.try_get("payload")?,
        actor: r.try_get("actor")?,
        state: super::named(r, "state", "outbox action state")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        result: r.try_get("result")?,
        created_at: r.try_get("created_at")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        applied_at: r.try_get("applied_at")?,
    })
}

impl Store {
    /// Queues an action; false when its key is queued already (nothing changes).
    pub async fn enqueue_action(&self, a: &Action) -> Result<bool> {
        let done = bind_action(
            sqlx::query(
            // `WHERE true`: SQLite needs it to parse ON CONFLICT after INSERT … SELECT.
            "INSERT INTO actions (idempotency_key, kind, target, payload, actor, state, attempts,
               created_at, next_attempt_at, seq)
             SELECT $1, $2, $3, $4, $5, $6, 0, $7, $8, COALESCE(MAX(seq), 0) + 1 FROM actions
             WHERE true
             ON CONFLICT (idempotency_key) DO NOTHING",
            ),
            a,
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Queues a merge unless another merge of the same change is queued or being sent, or one of
    /// this head went through (in the moment before the change is marked merged), or the change
    /// is no longer open: two leads merging one change at once (on one machine or on a
    /// team's shared database) get exactly one merge. The checks and the insert are one
    /// statement; on PostgreSQL it also runs under a transaction lock on the change, so two
    /// instances' statements cannot both see the other's merge as absent.
    pub async fn enqueue_merge(&self, a: &Action) -> Result<MergeQueued> {
        const INSERT: &str = "INSERT INTO actions (idempotency_key, kind, target, payload, actor,
               state, attempts, created_at, next_attempt_at, seq)
             SELECT $1, $2, $3, $4, $5, $6, 0, $7, $8, m.next
             FROM (SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM actions) m
             WHERE NOT EXISTS (SELECT 1 FROM actions
                               WHERE target = $3 AND kind = 'merge'
                                 AND (state IN ('queued', 'sending')
                                   OR (state = 'applied' AND payload LIKE $9)))
               AND EXISTS (SELECT 1 FROM change_requests WHERE id = $3 AND state = 'open')
             ON CONFLICT (idempotency_key) DO NOTHING";
        let mut tx = self.begin().await?;
        if self.target.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("flightdeck merge {}", a.target))
                .execute(&mut *tx)
                .await?;
        }
        // A merge of this very head that went through already (the change is marked merged
        // just after its merge is): the head is in the payload, a hex sha.
        let head = serde_json::from_str::<serde_json::Value>(&a.payload)
            .ok()
            .and_then(|p| p.get("sha").and_then(|s| s.as_str()).map(str::to_string))
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()) && !s.is_empty());
        let head_pattern = head.map_or_else(
            // No head to match: a pattern no JSON payload equals.
            || "-".to_string(),
            |h| format!("%\"sha\":\"{h}\"%"),
        );
        let done = bind_action(sqlx::query(INSERT), a)
            .bind(head_pattern)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 1 {
            return Ok(MergeQueued::Queued);
        }
        if self.action(&a.idempotency_key).await?.is_some() {
            return Ok(MergeQueued::SameKey);
        }
        let underway = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions
             WHERE target = $1 AND kind = 'merge' AND state IN ('queued', 'sending')
             ORDER BY seq LIMIT 1"
        ))
        .bind(&a.target)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match underway {
            Some(r) => MergeQueued::Underway(action(&r)?),
            None => MergeQueued::NotOpen,
        })
    }

    /// The last merge of a change that went through: who merged it, and when.
    pub async fn last_applied_merge(&self, target: &str) -> Result<Option<Action>> {
        sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions
             WHERE target = $1 AND kind = 'merge' AND state = 'applied'
             ORDER BY seq DESC LIMIT 1"
        ))
        .bind(target)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(action)
        .transpose()
    }

    /// Every action, oldest first.
    pub async fn actions(&self) -> Result<Vec<Action>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions ORDER BY seq, created_at, idempotency_key"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(action).collect()
    }

    /// The action with this idempotency key, if there is one.
    pub async fn action(&self, key: &str) -> Result<Option<Action>> {
        sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE idempotency_key = $1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(action)
        .transpose()
    }

    /// Actions a sender may take now: queued and due, or held by a sender whose lease ran out.
    pub async fn due_actions(&self, now: i64) -> Result<Vec<Action>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions
             WHERE (state = 'queued' AND next_attempt_at <= $1)
                OR (state = 'sending' AND lease_until < $1)
             ORDER BY seq, created_at, idempotency_key"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(action).collect()
    }

    /// Whether an action queued before action `key` on its target still waits or is being sent.
    pub async fn earlier_pending_action(&self, key: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM actions a, actions me
             WHERE me.idempotency_key = $1 AND a.target = me.target AND a.seq < me.seq
               AND a.state IN ('queued', 'sending')",
        )
        .bind(key)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Takes an action for sending until `lease_until`; false when another sender has it or it
    /// is done. Counts the attempt before it is made, so a crash mid-send is known afterwards.
    pub async fn claim_action(&self, key: &str, now: i64, lease_until: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE actions SET state = 'sending', attempts = attempts + 1, lease_until = $1
             WHERE idempotency_key = $2
               AND ((state = 'queued' AND next_attempt_at <= $3)
                 OR (state = 'sending' AND lease_until < $3))",
        )
        .bind(lease_until)
        .bind(key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the end of an action: `applied` with what it produced, or `failed` with why.
    pub async fn finish_action(
        &self,
        key: &str,
        state: crate::model::ActionState,
        result: Option<&str>,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE actions SET state = $1, result = $2, last_error = $3, applied_at = $4,
               lease_until = 0
             WHERE idempotency_key = $5",
        )
        .bind(state.as_str())
        .bind(result)
        .bind(error)
        .bind(now)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Puts an action back in the queue after a failure that may pass (offline, rate limit).
    pub async fn retry_action(&self, key: &str, error: &str, next_attempt_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE actions SET state = 'queued', last_error = $1, next_attempt_at = $2,
               lease_until = 0
             WHERE idempotency_key = $3",
        )
        .bind(error)
        .bind(next_attempt_at)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves a failed action to `state` (`queued`: due now, attempts kept so the target is
    /// checked before a resend; `dismissed`: the lead let it go). False when it is not failed.
    pub async fn reopen_failed_action(
        &self,
        key: &str,
        state: crate::model::ActionState,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE actions SET state = $1, next_attempt_at = $2, lease_until = 0
             WHERE idempotency_key = $3 AND state = 'failed'",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a review; false when this action recorded it already.
    pub async fn add_review(&self, r: &Review) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO reviews (action_key, change_request, head_sha, reviewer, state, body, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (action_key) DO NOTHING",
        )
        .bind(&r.action_key)
        .bind(&r.change_request)
        .bind(&r.head_sha)
        .bind(&r.reviewer)
        .bind(r.state.as_str())
        .bind(&r.body)
        .bind(r.at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Reviews of every change request, oldest first.
    pub async fn reviews(&self) -> Result<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT action_key, change_request, head_sha, reviewer, state, body, at FROM reviews
             ORDER BY at, action_key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(review_of).collect()
    }

    /// Reviews of change request `id`, oldest first.
    pub async fn reviews_of(&self, id: &str) -> Result<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT action_key, change_request, head_sha, reviewer, state, body, at FROM reviews
             WHERE change_request = $1 ORDER BY at, action_key",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(review_of).collect()
    }
}

pub(super) fn review_of(r: &sqlx::any::AnyRow) -> Result<Review> {
    Ok(Review {
        action_key: r.try_get("action_key")?,
        change_request: r.try_get("change_request")?,
        head_sha: r.try_get("head_sha")?,
        reviewer: r.try_get("reviewer")?,
        state: super::named(r, "state", "review state")?,
        body: r.try_get("body")?,
        at: r.try_get("at")?,
    })
}
