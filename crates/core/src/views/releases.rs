//! The Releases view: per environment, what is live, pending and failed.

use super::*;
use crate::model::DeployStatus;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReleasesView {
    pub releases: Vec<Release>,
    /// The [`RECENT_DEPLOYS`] newest deployments, newest first.
    pub deployments: Vec<Deployment>,
    /// Older deployments not listed (counted in `environments`).
    #[ts(type = "number")]
    pub deployments_not_listed: i64,
    /// Per repo and environment: what is live, what is on its way, the last failure.
    pub environments: Vec<EnvironmentStatus>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct EnvironmentStatus {
    pub repo: String,
    pub environment: String,
    /// The newest successful deploy.
    pub live: Option<Deployment>,
    /// Deploys in progress or queued, newer than what is live.
    pub pending: Vec<Deployment>,
    /// The newest failed deploy after what is live, if any.
    pub failed: Option<Deployment>,
    #[ts(type = "number")]
    pub deploys: i64,
}

/// How many deployments the view lists (a team deploys 100,000 times in two years).
pub const RECENT_DEPLOYS: i64 = 200;

pub async fn releases(store: &Store) -> Result<ReleasesView> {
    let (deployments, total) = store.recent_deployments(RECENT_DEPLOYS).await?;
    Ok(ReleasesView {
        releases: store.releases().await?,
        environments: environments(store).await?,
        deployments_not_listed: (total - deployments.len() as i64).max(0),
        deployments,
    })
}

/// Per repo and environment, in that order: what is live, on its way, and failed since.
pub async fn environments(store: &Store) -> Result<Vec<EnvironmentStatus>> {
    let mut environments = Vec::new();
    // Per environment only what is newer than its live deploy is read: newest first.
    for (repo, environment, deploys, newest) in store.environment_heads(500).await? {
        let mut e = EnvironmentStatus {
            repo,
            environment,
            live: None,
            pending: vec![],
            failed: None,
            deploys,
        };
        for d in newest {
            match d.status {
                DeployStatus::Success => {
                    e.live = Some(d);
                    break;
                }
                DeployStatus::Failure if e.failed.is_none() => e.failed = Some(d),
                DeployStatus::InProgress | DeployStatus::Queued => e.pending.push(d),
                _ => {}
            }
        }
        environments.push(e);
    }
    // In Rust's order, whatever the database's collation.
    environments.sort_by(|a, b| (&a.repo, &a.environment).cmp(&(&b.repo, &b.environment)));
    Ok(environments)
}
