//! How the last GitHub refresh went, as the UI shows it (last synced, rate limit, error).

use super::*;

/// How the last GitHub refresh went, for the UI ("last synced", rate limit, error).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct ForgeStatus {
    #[ts(type = "number | null")]
    pub last_synced: Option<i64>,
    #[ts(type = "number")]
    pub repos: i64,
    #[ts(type = "number")]
    pub open: i64,
    /// Open issues, read as work items.
    #[serde(default)]
    #[ts(type = "number")]
    pub issues: i64,
    #[ts(type = "number")]
    pub rate_limit: i64,
    #[ts(type = "number")]
    pub rate_remaining: i64,
    #[ts(type = "number")]
    pub rate_reset: i64,
    pub error: Option<String>,
    /// Who the token belongs to: reviews requested from this login are the lead's.
    #[serde(default)]
    pub login: Option<String>,
}

impl ForgeStatus {
    pub async fn load(store: &Store) -> Result<Option<Self>, crate::Error> {
        Ok(store
            .cursor("github", "status")
            .await?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }
}
