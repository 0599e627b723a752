//! Deploy contents: the commits each deploy shipped, written once computed from the graph.

use super::Store;
use crate::error::Result;

impl Store {
    /// Replaces what deployment `id` shipped and marks its contents exact.
    pub async fn set_deploy_commits(&self, id: &str, repo: &str, shas: &[String]) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM deploy_commits WHERE deployment = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for sha in shas {
            sqlx::query(
                "INSERT INTO deploy_commits (deployment, repo, sha) VALUES ($1, $2, $3)
                 ON CONFLICT (deployment, sha) DO NOTHING",
            )
            .bind(id)
            .bind(repo)
            .bind(sha)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE deployments SET contents = 'exact' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every (deployment, sha) shipped, for the deploys of `repo` (all repos when `None`).
    pub async fn deploy_commits(&self, repo: Option<&str>) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = match repo {
            Some(r) => {
                sqlx::query_as("SELECT deployment, sha FROM deploy_commits WHERE repo = $1")
                    .bind(r)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_as("SELECT deployment, sha FROM deploy_commits")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok(rows)
    }

    /// What DORA needs of each commit of `repo`, by sha.
    pub async fn commit_facts(
        &self,
        repo: &str,
    ) -> Result<std::collections::HashMap<String, CommitFacts>> {
        let rows: Vec<(String, i64, String, Option<String>)> =
            sqlx::query_as("SELECT sha, committed_at, summary, agent FROM commits WHERE repo = $1")
                .bind(repo)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(sha, committed_at, summary, agent)| {
                let facts = CommitFacts {
                    committed_at,
                    summary,
                    agent: agent.is_some(),
                };
                (sha, facts)
            })
            .collect())
    }
}

/// A commit's time, summary and whether an agent wrote it.
#[derive(Debug, Clone)]
pub struct CommitFacts {
    pub committed_at: i64,
    pub summary: String,
    pub agent: bool,
}
