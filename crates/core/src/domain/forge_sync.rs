//! The background sync of every watched repo's GitHub side: pull requests (`github`), issues
//! as work items (`issues`), deployments (`deploys`), incidents (`incidents`) and runs waiting
//! on a release (`releases`), with the status the UI shows. Above all of them, so the forge
//! client below knows none.

use std::time::Duration;

use crate::forge::github::{forge_host, full_name, sync_repo, ForgeStatus, GitHub, GitHubError};
use crate::store::Store;

/// Refreshes every watched repo whose `origin` is on this GitHub, and records how it went.
/// Stops at the first rate limit (the rest waits for the reset); other errors are per repo.
pub async fn sync_all(
    gh: &GitHub,
    store: &Store,
    api_url: &str,
    incident_labels: &[String],
    now: i64,
) -> Result<ForgeStatus, crate::Error> {
    let host = forge_host(api_url);
    let mut status = ForgeStatus {
        last_synced: Some(now),
        ..Default::default()
    };
    let mut errors = Vec::new();
    for repo in store.repos().await? {
        let Some(full) = full_name(&repo, &host) else {
            continue;
        };
        status.repos += 1;
        let synced = match sync_repo(gh, store, &full, &repo.id).await {
            Ok(s) => {
                status.open += s.open as i64;
                // Its open issues become work items; its deployments deploys; issues labelled
                // `incident` incidents; runs waiting on an environment's reviewers pending
                // releases.
                async {
                    status.issues +=
                        crate::domain::issues::sync_issues(gh, store, &full, &repo.id, now).await?
                            as i64;
                    crate::domain::deploys::sync_github(gh, store, &full, &repo.id, now).await?;
                    let incidents = crate::domain::incidents::sync_github(
                        gh,
                        store,
                        &full,
                        &repo.id,
                        incident_labels,
                    )
                    .await?;
                    errors.extend(incidents.skipped);
                    crate::domain::releases::sync_waiting_runs(gh, store, &full, &repo.id, now)
                        .await?;
                    Ok(())
                }
                .await
            }
            Err(e) => Err(e),
        };
        match synced {
            Ok(()) => {}
            Err(e @ GitHubError::RateLimited { .. }) => {
                errors.push(e.to_string());
                break;
            }
            Err(GitHubError::Store(e)) => return Err(e),
            Err(e) => errors.push(format!("{full}: {e}")),
        }
    }
    if status.repos > 0 {
        // Conditional after the first time: a free 304.
        match gh.get("/user").await {
            Ok((u, _)) => status.login = u["login"].as_str().map(str::to_string),
            Err(e) => errors.push(format!("who am I: {e}")),
        }
    }
    let rate = gh.rate();
    status.rate_limit = rate.limit;
    status.rate_remaining = rate.remaining;
    status.rate_reset = rate.reset;
    status.error = (!errors.is_empty()).then(|| errors.join("; "));
    let text = serde_json::to_string(&status).unwrap_or_default();
    store.set_cursor("github", "status", &text, now).await?;
    Ok(status)
}

/// Refreshes GitHub every `every` in the background (no sooner than a spent rate limit
/// resets), telling the UI when it did.
pub fn spawn_periodic(
    store: Store,
    bus: crate::model::events::EventBus,
    api_url: String,
    token: Option<String>,
    incident_labels: Vec<String>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let gh = match GitHub::new(&api_url, token) {
            Ok(gh) => gh,
            Err(e) => {
                tracing::warn!("GitHub sync is off: {e}");
                return;
            }
        };
        loop {
            let now = chrono::Utc::now().timestamp();
            let mut wait = every;
            match sync_all(&gh, &store, &api_url, &incident_labels, now).await {
                Ok(s) if s.repos > 0 => {
                    if s.rate_remaining == 0 && s.rate_reset > now {
                        wait = wait.max(Duration::from_secs((s.rate_reset - now) as u64));
                    }
                    bus.publish(crate::model::events::Event::Changed {
                        source: "github".into(),
                        topics: vec!["changes".into(), "inbox".into()],
                    });
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("GitHub sync failed: {e}"),
            }
            tokio::time::sleep(wait).await;
        }
    })
}
