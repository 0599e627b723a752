//! The Releases view: per environment, what is live, pending and failed.

use super::*;
use crate::model::DeployStatus;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReleasesView {
    pub releases: Vec<Release>,
    pub deployments: Vec<Deployment>,
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

pub async fn releases(store: &Store) -> Result<ReleasesView> {
    let deployments = store.deployments().await?;
    // Newest first already; group keeping that order.
    let mut envs: BTreeMap<(String, String), EnvironmentStatus> = BTreeMap::new();
    for d in &deployments {
        let e = envs
            .entry((d.repo.clone(), d.environment.clone()))
            .or_insert_with(|| EnvironmentStatus {
                repo: d.repo.clone(),
                environment: d.environment.clone(),
                live: None,
                pending: vec![],
                failed: None,
                deploys: 0,
            });
        e.deploys += 1;
        if e.live.is_some() {
            continue;
        }
        match d.status {
            DeployStatus::Success => e.live = Some(d.clone()),
            DeployStatus::Failure if e.failed.is_none() => e.failed = Some(d.clone()),
            DeployStatus::InProgress | DeployStatus::Queued => e.pending.push(d.clone()),
            _ => {}
        }
    }
    Ok(ReleasesView {
        releases: store.releases().await?,
        environments: envs.into_values().collect(),
        deployments,
    })
}
