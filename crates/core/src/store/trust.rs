//! The team's trusted audit keys (`domain::trust` owns the rules).

use sqlx::Row;

use super::Store;
use crate::model::error::Result;

/// A public key the team trusts, and whose it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrustedKey {
    pub key: String,
    pub name: String,
    pub added_at: i64,
    pub added_by: String,
}

impl Store {
    /// Adds or renames a trusted key.
    pub async fn trust_key(&self, k: &TrustedKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_trust (key, name, added_at, added_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET name = excluded.name",
        )
        .bind(&k.key)
        .bind(&k.name)
        .bind(k.added_at)
        .bind(&k.added_by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a trusted key; false when it was not there.
    pub async fn untrust_key(&self, key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM audit_trust WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The trusted keys, by name.
    pub async fn trusted_keys(&self) -> Result<Vec<TrustedKey>> {
        sqlx::query("SELECT key, name, added_at, added_by FROM audit_trust ORDER BY name, key")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(TrustedKey {
                    key: r.try_get("key")?,
                    name: r.try_get("name")?,
                    added_at: r.try_get("added_at")?,
                    added_by: r.try_get("added_by")?,
                })
            })
            .collect()
    }
}
