//! The notifications sent to channels: the claim that makes each go out once (a row per
//! channel, subject and version, first INSERT wins), its outcome, and what is still open for an
//! update. `crate::notify` owns the rules; this is only the rows.

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
    /// `sending`, `sent`, `failed` (tried again later), `gave_up`.
    pub status: String,
    /// `open` while its item is in the inbox, `resolved` after.
    pub state: String,
    /// `single`, or `digest` (one line of a digest message).
    pub via: String,
    #[ts(type = "number")]
    pub attempts: i64,
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
    /// Claims one notification for sending; true when this caller got it (of two instances
    /// racing, one does). Claimable: one never seen; one that failed and is due again; one
    /// resolved whose item came back; one still `sending` since before `stale_before` (its
    /// sender died).
    pub async fn claim_notification(
        &self,
        c: &NotificationClaim<'_>,
        via: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO notifications (channel, subject, version, kind, title, repo, status,
               state, via, attempts, claimed_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'sending', 'open', $7, 1, $8)
             ON CONFLICT DO NOTHING",
        )
        .bind(c.channel)
        .bind(c.subject)
        .bind(c.version)
        .bind(c.kind)
        .bind(c.title)
        .bind(c.repo)
        .bind(via)
        .bind(now)
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        // One statement: PostgreSQL re-checks the condition on the row another instance just
        // claimed, SQLite runs writers one at a time; either way one caller wins.
        let reclaimed = sqlx::query(
            "UPDATE notifications SET status = 'sending', state = 'open', via = $4,
               title = $5, attempts = CASE WHEN state = 'resolved' THEN 1 ELSE attempts + 1 END,
               claimed_at = $6
             WHERE channel = $1 AND subject = $2 AND version = $3
               AND ((status = 'failed' AND next_try <= $6)
                 OR (status = 'sending' AND claimed_at < $7)
                 OR (state = 'resolved' AND status IN ('sent', 'gave_up')))",
        )
        .bind(c.channel)
        .bind(c.subject)
        .bind(c.version)
        .bind(via)
        .bind(c.title)
        .bind(now)
        .bind(stale_before)
        .execute(self.pool())
        .await?;
        Ok(reclaimed.rows_affected() == 1)
    }

    /// Records a claimed notification as sent, with what the channel called it.
    pub async fn notification_sent(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
        message_ref: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET status = 'sent', sent_at = $4, message_ref = $5,
               last_error = NULL, next_try = NULL
             WHERE channel = $1 AND subject = $2 AND version = $3",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .bind(now)
        .bind(message_ref)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a failed try: tried again from `next_try`, or given up when `None`.
    pub async fn notification_failed(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
        error: &str,
        next_try: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET status = $4, last_error = $5, next_try = $6
             WHERE channel = $1 AND subject = $2 AND version = $3",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
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

    /// Re-labels a claimed notification as one line of a digest (past the hourly limit).
    pub async fn mark_notification_digest(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET via = 'digest'
             WHERE channel = $1 AND subject = $2 AND version = $3",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// How many times a notification was tried (the current try included).
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

    /// The notifications sent to `channel` whose item was in the inbox when last looked at.
    pub async fn open_notifications(&self, channel: &str) -> Result<Vec<SentNotification>> {
        self.notifications_where(
            "WHERE channel = $1 AND state = 'open' AND status = 'sent' ORDER BY claimed_at",
            Some(channel),
        )
        .await
    }

    /// Marks a sent notification resolved; true when this caller did (so sends its update).
    pub async fn resolve_notification(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE notifications SET state = 'resolved'
             WHERE channel = $1 AND subject = $2 AND version = $3 AND state = 'open'",
        )
        .bind(channel)
        .bind(subject)
        .bind(version)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The last `limit` notifications claimed, newest first.
    pub async fn recent_notifications(&self, limit: i64) -> Result<Vec<SentNotification>> {
        self.notifications_where(
            &format!(
                "ORDER BY claimed_at DESC, channel, subject LIMIT {}",
                limit.max(0)
            ),
            None,
        )
        .await
    }

    async fn notifications_where(
        &self,
        tail: &str,
        channel: Option<&str>,
    ) -> Result<Vec<SentNotification>> {
        let sql = format!(
            "SELECT channel, subject, version, kind, title, repo, status, state, via, attempts,
               claimed_at, sent_at, next_try, message_ref, last_error
             FROM notifications {tail}"
        );
        let mut q = sqlx::query(&sql);
        if let Some(c) = channel {
            q = q.bind(c);
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
