//! The Repos view: watched repositories, and work trees agents ran in that nobody watches (suggested).

use super::*;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RepoSummary {
    pub repo: Repo,
    pub branches: Vec<Branch>,
    #[ts(type = "number")]
    pub commits: i64,
    #[ts(type = "number")]
    pub agent_commits: i64,
    #[ts(type = "number | null")]
    pub last_commit_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReposView {
    pub repos: Vec<RepoSummary>,
    /// Work trees agents ran in that are not watched (`flightdeck repo add PATH`).
    pub suggested: Vec<String>,
}

pub async fn repos(store: &Store) -> Result<ReposView> {
    let branches = store.branches().await?;
    let stats = store.commit_stats_by_repo().await?;
    let repos = store
        .repos()
        .await?
        .into_iter()
        .map(|repo| {
            let st = stats.iter().find(|s| s.0 == repo.id);
            RepoSummary {
                branches: branches
                    .iter()
                    .filter(|b| b.repo == repo.id)
                    .cloned()
                    .collect(),
                commits: st.map(|s| s.1).unwrap_or(0),
                agent_commits: st.map(|s| s.2).unwrap_or(0),
                last_commit_at: st.map(|s| s.3),
                repo,
            }
        })
        .collect();
    Ok(ReposView {
        repos,
        suggested: suggested_repos(store).await?,
    })
}

/// Git work trees that agent runs worked in but that nobody watches yet: offered, never added
/// silently.
pub async fn suggested_repos(store: &Store) -> Result<Vec<String>> {
    let watched: Vec<String> = store
        .repos()
        .await?
        .into_iter()
        .filter_map(|r| r.path)
        .collect();
    // Many runs share a working directory: look each one up on disk once.
    let cwds = store.unmatched_run_cwds().await?;
    let mut out = std::collections::BTreeSet::new();
    for cwd in cwds {
        let Ok(repo) = git2::Repository::discover(&cwd) else {
            continue;
        };
        // A linked worktree's runs belong to its main repository.
        let root = if repo.is_worktree() {
            repo.commondir().parent().map(std::path::Path::to_path_buf)
        } else {
            repo.workdir().map(std::path::Path::to_path_buf)
        };
        if let Some(root) = root {
            let root = root.canonicalize().unwrap_or(root);
            let root = root.display().to_string().trim_end_matches('/').to_string();
            if !watched.contains(&root) {
                out.insert(root);
            }
        }
    }
    Ok(out.into_iter().collect())
}
