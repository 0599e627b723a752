//! Login codes and browser sessions: rows keyed by the SHA-256 of their secret (the rules —
//! lifetimes, what a failed sign-in says — are `domain::access`'s).

use sqlx::Row;

use super::Store;
use crate::model::error::Result;

/// A signed-in browser, as listed and revoked (never its secret).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionRow {
    pub id: String,
    pub label: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// A paired device's public key (hex P-256 point): its requests must be signed with it.
    pub device_key: Option<String>,
    /// Who it acts as: a `[team]` member id or a name (`None`: the instance serving it).
    pub person: Option<String>,
}

/// A pairing code as kept: the SPAKE2 scalar derived from it, for five minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct PairingRow {
    pub verifier: String,
    pub label: Option<String>,
    /// Who the session it opens acts as.
    pub person: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// What became of an attempt to use a login code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// Unused and in time: it is now used. With the name it was made for, if any.
    Now {
        label: Option<String>,
        person: Option<String>,
    },
    /// No such code.
    Unknown,
    /// Used before.
    Used,
    /// Expired unused.
    Expired,
}

const COLUMNS: &str =
    "id, label, created_at, last_seen, expires_at, revoked_at, device_key, person";

fn session(r: &sqlx::any::AnyRow) -> Result<SessionRow> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        label: r.try_get("label")?,
        created_at: r.try_get("created_at")?,
        last_seen: r.try_get("last_seen")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        device_key: r.try_get("device_key")?,
        person: r.try_get("person")?,
    })
}

impl Store {
    /// Records a login code by its hash; codes that ended a day ago go at the same time.
    pub async fn insert_login_code(
        &self,
        hash: &str,
        now: i64,
        expires_at: i64,
        label: Option<&str>,
        person: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM login_codes WHERE expires_at < $1")
            .bind(now - 86_400)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO login_codes (hash, created_at, expires_at, label, person)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(now)
        .bind(expires_at)
        .bind(label)
        .bind(person)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses the code with this hash if it is unused and in time. One statement decides, so two
    /// requests racing with one code cannot both win (on SQLite or PostgreSQL).
    pub async fn redeem_login_code(&self, hash: &str, now: i64) -> Result<Redeemed> {
        let done = sqlx::query(
            "UPDATE login_codes SET used_at = $1
             WHERE hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT used_at, label, person FROM login_codes WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            None => Redeemed::Unknown,
            Some(r) if done.rows_affected() == 1 => Redeemed::Now {
                label: r.try_get("label")?,
                person: r.try_get("person")?,
            },
            Some(r) => match r.try_get::<Option<i64>, _>("used_at")? {
                Some(_) => Redeemed::Used,
                None => Redeemed::Expired,
            },
        })
    }

    /// Records a pairing code under its public id; codes that ended a day ago go too.
    pub async fn insert_pairing_code(
        &self,
        id: &str,
        verifier: &str,
        label: Option<&str>,
        person: Option<&str>,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM pairing_codes WHERE expires_at < $1")
            .bind(now - 86_400)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO pairing_codes (id, verifier, label, person, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(verifier)
        .bind(label)
        .bind(person)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn pairing_code(&self, id: &str) -> Result<Option<PairingRow>> {
        let row = sqlx::query(
            "SELECT verifier, label, person, expires_at, used_at FROM pairing_codes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(PairingRow {
                verifier: r.try_get("verifier")?,
                label: r.try_get("label")?,
                person: r.try_get("person")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// Spends a pairing code if it is unused and in time: false when another attempt (or an
    /// expiry) came first. One statement decides, as for login codes.
    pub async fn spend_pairing_code(&self, id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE pairing_codes SET used_at = $1
             WHERE id = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a session by its secret's hash; sessions that ended (expired or signed out) a
    /// day before it go at the same time, so the table holds what is open and recent.
    pub async fn insert_session(&self, s: &SessionRow, hash: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
            .bind(s.created_at - 86_400)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO sessions ({COLUMNS}, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&s.id)
        .bind(&s.label)
        .bind(s.created_at)
        .bind(s.last_seen)
        .bind(s.expires_at)
        .bind(s.revoked_at)
        .bind(&s.device_key)
        .bind(&s.person)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session whose secret has this hash, whatever its state.
    pub async fn session_by_hash(&self, hash: &str) -> Result<Option<SessionRow>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE hash = $1"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(session)
            .transpose()
    }

    pub async fn touch_session(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a session; false when there is no such session still open.
    pub async fn revoke_session(&self, id: &str, now: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sessions neither revoked nor expired, the most recently seen first.
    pub async fn open_sessions(&self, now: i64) -> Result<Vec<SessionRow>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE revoked_at IS NULL AND expires_at > $1
             ORDER BY last_seen DESC, id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(session)
        .collect()
    }
}
