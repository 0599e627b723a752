//! The notifications sent to channels: the claim that makes each go out once (a row per
//! channel, subject and version, first INSERT wins), its outcome (recorded only by the
//! claimant), what waits for the digest, and what is still open for an update. `crate::notify`
//! owns the rules; this is only the rows.

use sqlx::Row;

use super::Store;
use crate::model::error::Result;

/// What is being claimed: one inbox item for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationClaim<'a> {
    pub channel: &'a str,
    pub subject: &'a str,
    pub version: i64,
    pub kind: &'a str,
    pub title: &'a str,
    pub repo: &'a str,
}

/// How a claim is taken: its status and `via`, the pass's time, the wall clock (ms) and the
/// moment the inbox it acts on was read (ms), the lease's length, and the claimant's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimAs<'a> {
    /// `sending`, `held` (for the digest) or `skipped` (not news).
    pub status: &'a str,
    /// `single`, `digest` or `test`.
    pub via: &'a str,
    pub now: i64,
    pub wall_ms: i64,
    /// A row resolved after this moment is not taken again: the inbox read before then still
    /// showed its item.
    pub read_ms: i64,
    pub lease_ms: i64,
    pub token: &'a str,
}

/// A notification as stored, for `notify list` and the Notifications panel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SentNotification {
    pub channel: String,
    pub subject: String,
    #[ts(type = "number")]
    pub version: i64,
    pub kind: String,
    pub title: String,
    pub repo: String,
    /// `held`, `sending`, `sent`, `failed` (tried again later), `gave_up`, `dropped`.
    pub status: String,
    /// `open` while its item is in the inbox, `resolved` after.
    pub state: String,
    /// `single`, `digest` (one line of a digest message) or `test`.
    pub via: String,
    #[ts(type = "number")]
    pub attempts: i64,
    #[ts(type = "number")]
    pub round: i64,
    #[ts(type = "number")]
    pub claimed_at: i64,
    #[ts(type = "number | null")]
    pub sent_at: Option<i64>,
    #[ts(type = "number | null")]
    pub next_try: Option<i64>,
    pub message_ref: Option<String>,
    pub last_error: Option<String>,
}

impl Store {
    /// Claims one notification; true when this caller got it (of two instances racing, one
    /// does). Claimable: one never seen; one that failed and is due again; one still `sending`
    /// whose lease ran out (its sender died); one resolved (by `read_ms`: a resolution in the
    /// same millisecond as the read counts as before it) whose item came back, as the next
    /// round.
    pub async fn claim_notification(
        &self,
        c: &NotificationClaim<'_>,
        how: &ClaimAs<'_>,
    ) -> Result<bool> {
        let tries = i64::from(how.status == "sending");
        let inserted = sqlx::query(
            "INSERT INTO notifications (channel, subject, version, kind, title, repo, status,
               state, via, attempts, round, claimed_at, claimed_ms, claim_token)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, 0, $10, $11, $12)
             ON CONFLICT DO NOTHING",
        )
        .bind(c.channel)
        .bind(c.subject)
        .bind(c.version)
        .bind(c.kind)
        .bind(c.title)
        .bind(c.repo)
        .bind(how.status)
        .bind(how.via)
        .bind(tries)
        .bind(how.now)
        .bind(how.wall_ms)
        .bind(how.token)
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        // One statement: PostgreSQL re-checks the condition on a row another instance just
        // claimed, SQLite runs writers one at a time; either way one caller wins.
        let reclaimed = sqlx::query(
            "UPDATE notifications SET status = $4, via = $5, title = $6, claimed_at = $7,
               claimed_ms = $8, claim_token = $9,
               attempts = CASE WHEN state = 'resolved' THEN $10 ELSE attempts + $10 END,
               round = CASE WHEN state = 'resolved' THEN round + 1 ELSE round END,
               state = 'open', resolved_ms = NULL
             WHERE channel = $1 AND subject = $2 AND version = $3
               AND ((state = 'open' AND status = 'failed' AND next_try <= $7)
                 OR (status = 'sending' AND claimed_ms < $8 - $11)
                 OR (state = 'resolved' AND resolved_ms <= $12))",
        )
        .bind(c.channel)
        .bind(c.subject)
        .bind(c.version)
        .bind(how.status)
        .bind(how.via)
        .bind(c.title)
        .bind(how.now)
        .bind(how.wall_ms)
        .bind(how.token)
        .bind(tries)
        .bind(how.lease_ms)
        .bind(how.read_ms)
        .execute(self.pool())
        .await?;
        Ok(reclaimed.rows_affected() == 1)
    }

    /// The open rows of `channel` as `(subject, version) → (status, next_try, claimed_ms)`: what
    /// a pass needs to know which items to try to claim, in one read (an idle pass writes
    /// nothing and takes no write lock).
    pub async fn open_notification_states(
        &self,
        channel: &str,
    ) -> Result<std::collections::HashMap<(String, i64), (String, Option<i64>, i64)>> {
        let rows = sqlx::query(
            "SELECT subject, version, status, next_try, claimed_ms FROM notifications
             WHERE channel = $1 AND state = 'open'",
        )
        .bind(channel)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    (r.try_get("subject")?, r.try_get("version")?),
                    (
                        r.try_get("status")?,
                        r.try_get("next_try")?,
                        r.try_get("claimed_ms")?,
                    ),
                ))
            })
            .collect()
    }

    /// Records an item as not news for `channel` (it was there when the channel began, or when
    /// its rules changed), unless it has a row already.
    pub async fn skip_notification(&self, c: &NotificationClaim<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO notifications (channel, subject, version, kind, title, repo, status,
               state, via, attempts, round, claimed_at, claimed_ms, claim_token)
             VALUES ($1, $2, $3, $4, $5, $6, 'skipped', 'open', 'single', 0, 0, 0, 0, '')
             ON CONFLICT DO NOTHING",
        )
        .bind(c.channel)
        .bind(c.subject)
        .bind(c.version)
        .bind(c.kind)
        .bind(c.title)
        .bind(c.repo)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes a held notification for the digest being sent; true when this caller got it.
    pub async fn claim_held_notification(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
        wall_ms: i64,
        token: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE notifications SET status = 'sending', claimed_ms = $4, claim_token = $5,
               attempts = attempts + 1
             WHERE channel = $1 AND subject = $2 AND version = $3 AND status = 'held'
               AND state = 'open'",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .bind(wall_ms)
        .bind(token)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a claimed notification as sent, with what the channel called it; only the
    /// claimant holding `token` can (a claim taken over after its lease is no longer its).
    pub async fn notification_sent(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
        token: &str,
        message_ref: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE notifications SET status = 'sent', sent_at = $5, message_ref = $6,
               last_error = NULL, next_try = NULL
             WHERE channel = $1 AND subject = $2 AND version = $3 AND claim_token = $4
               AND status = 'sending'",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .bind(token)
        .bind(now)
        .bind(message_ref)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed try by the claimant holding `token`: tried again from `next_try`, or
    /// given up when `None`.
    pub async fn notification_failed(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
        token: &str,
        error: &str,
        next_try: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET status = $5, last_error = $6, next_try = $7
             WHERE channel = $1 AND subject = $2 AND version = $3 AND claim_token = $4
               AND status = 'sending'",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .bind(token)
        .bind(if next_try.is_some() {
            "failed"
        } else {
            "gave_up"
        })
        .bind(error)
        .bind(next_try)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// How many times a notification was tried this round (the current try included).
    pub async fn notification_attempts(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT attempts FROM notifications
             WHERE channel = $1 AND subject = $2 AND version = $3",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .fetch_optional(self.pool())
        .await?
        .unwrap_or(0))
    }

    /// Which round a notification is in (0 until its item leaves the inbox and comes back).
    pub async fn notification_round(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT round FROM notifications
             WHERE channel = $1 AND subject = $2 AND version = $3",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .fetch_optional(self.pool())
        .await?
        .unwrap_or(0))
    }

    /// How many single messages went (or are going) to `channel` since `since`: the hourly
    /// count the digest limit is checked against.
    pub async fn notifications_sent_since(&self, channel: &str, since: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications
             WHERE channel = $1 AND via = 'single' AND claimed_at >= $2
               AND status IN ('sending', 'sent')",
        )
        .bind(channel)
        .bind(since)
        .fetch_one(self.pool())
        .await?)
    }

    /// The notifications of `channel` held for its next digest, oldest first.
    pub async fn held_notifications(&self, channel: &str) -> Result<Vec<SentNotification>> {
        self.notifications_where(
            "WHERE channel = $1 AND status = 'held' AND state = 'open'
             ORDER BY claimed_ms, subject",
            Some(channel),
            &[],
        )
        .await
    }

    /// The notifications of `channel` still open and claimed by `read_ms` (so the inbox
    /// read then saw whether their item was still there), not in flight: `sending` only when
    /// claimed before `lapsed_ms` (its sender died).
    pub async fn open_notifications(
        &self,
        channel: &str,
        read_ms: i64,
        lapsed_ms: i64,
    ) -> Result<Vec<SentNotification>> {
        self.notifications_where(
            "WHERE channel = $1 AND state = 'open' AND claimed_ms <= $2
               AND (status <> 'sending' OR claimed_ms < $3)
             ORDER BY claimed_ms",
            Some(channel),
            &[read_ms, lapsed_ms],
        )
        .await
    }

    /// Marks a notification resolved (its item left the inbox): one held for a digest is
    /// dropped, one whose sender died mid-send (claimed before `lapsed_ms`) given up. True when
    /// this caller did it (so sends the update, if one is due).
    pub async fn resolve_notification(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
        wall_ms: i64,
        lapsed_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE notifications SET state = 'resolved', resolved_ms = $4,
               status = CASE WHEN status = 'held' THEN 'dropped'
                 WHEN status = 'sending' THEN 'gave_up' ELSE status END
             WHERE channel = $1 AND subject = $2 AND version = $3 AND state = 'open'
               AND (status <> 'sending' OR claimed_ms < $5)",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .bind(wall_ms)
        .bind(lapsed_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The last `limit` notifications claimed, newest first (not the ones skipped as not news).
    pub async fn recent_notifications(&self, limit: i64) -> Result<Vec<SentNotification>> {
        self.notifications_where(
            &format!(
                "WHERE status <> 'skipped' ORDER BY claimed_ms DESC, channel, subject LIMIT {}",
                limit.max(0)
            ),
            None,
            &[],
        )
        .await
    }

    async fn notifications_where(
        &self,
        tail: &str,
        channel: Option<&str>,
        numbers: &[i64],
    ) -> Result<Vec<SentNotification>> {
        let sql = format!(
            "SELECT channel, subject, version, kind, title, repo, status, state, via, attempts,
               round, claimed_at, sent_at, next_try, message_ref, last_error
             FROM notifications {tail}"
        );
        let mut q = sqlx::query(&sql);
        if let Some(c) = channel {
            q = q.bind(c);
        }
        for n in numbers {
            q = q.bind(*n);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(SentNotification {
                    channel: r.try_get("channel")?,
                    subject: r.try_get("subject")?,
                    version: r.try_get("version")?,
                    kind: r.try_get("kind")?,
                    title: r.try_get("title")?,
                    repo: r.try_get("repo")?,
                    status: r.try_get("status")?,
                    state: r.try_get("state")?,
                    via: r.try_get("via")?,
                    attempts: r.try_get("attempts")?,
                    round: r.try_get("round")?,
                    claimed_at: r.try_get("claimed_at")?,
                    sent_at: r.try_get("sent_at")?,
                    next_try: r.try_get("next_try")?,
                    message_ref: r.try_get("message_ref")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }
}
