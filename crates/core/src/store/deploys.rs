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
}
