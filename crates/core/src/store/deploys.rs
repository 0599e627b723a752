//! Deploy contents: the commits each deploy shipped, written once computed from the graph; and
//! the incidents DORA attributes to deploys.

use sqlx::Row;

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

    /// The shas deployment `id` shipped.
    pub async fn deploy_shas(&self, id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT sha FROM deploy_commits WHERE deployment = $1")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
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

impl Store {
    /// Inserts or refreshes an incident.
    pub async fn upsert_incident(&self, i: &crate::model::Incident) -> Result<()> {
        sqlx::query(
            "INSERT INTO incidents (id, repo, title, url, opened_at, closed_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, title = excluded.title,
               url = excluded.url, opened_at = excluded.opened_at, closed_at = excluded.closed_at",
        )
        .bind(&i.id)
        .bind(&i.repo)
        .bind(&i.title)
        .bind(&i.url)
        .bind(i.opened_at)
        .bind(i.closed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Drops the incidents of `repo` whose id starts with `prefix` and is not in `keep` (their
    /// label was removed, or the issue deleted).
    pub async fn retain_incidents(&self, repo: &str, prefix: &str, keep: &[String]) -> Result<()> {
        let stored: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM incidents WHERE repo = $1 ORDER BY id")
                .bind(repo)
                .fetch_all(&self.pool)
                .await?;
        for (id,) in stored {
            if id.starts_with(prefix) && !keep.contains(&id) {
                sqlx::query("DELETE FROM incidents WHERE id = $1")
                    .bind(&id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn incident(&self, id: &str) -> Result<Option<crate::model::Incident>> {
        let row = sqlx::query(
            "SELECT id, repo, title, url, opened_at, closed_at FROM incidents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(incident_of).transpose()
    }

    /// Incidents opened at or after `since`, of `repo` (all when `None`), oldest first.
    pub async fn incidents(
        &self,
        repo: Option<&str>,
        since: i64,
    ) -> Result<Vec<crate::model::Incident>> {
        let q = format!(
            "SELECT id, repo, title, url, opened_at, closed_at FROM incidents
             WHERE opened_at >= $1{} ORDER BY opened_at, id",
            if repo.is_some() { " AND repo = $2" } else { "" }
        );
        let mut query = sqlx::query(&q).bind(since);
        if let Some(r) = repo {
            query = query.bind(r);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(incident_of)
            .collect()
    }

    /// What each `Revert "…"` commit of the store reverts: (repo, the quoted summary).
    pub async fn reverted_summaries(&self) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT repo, summary FROM commits WHERE summary LIKE 'Revert \"%'")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(repo, s)| {
                let inner = s.strip_prefix("Revert \"")?.strip_suffix('"')?;
                Some((repo, inner.to_string()))
            })
            .collect())
    }

    /// The summary of commit `sha` of `repo`, when the store holds it.
    pub async fn commit_summary(&self, repo: &str, sha: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT summary FROM commits WHERE repo = $1 AND sha = $2")
                .bind(repo)
                .bind(sha)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(s,)| s))
    }
}

fn incident_of(r: &sqlx::any::AnyRow) -> Result<crate::model::Incident> {
    Ok(crate::model::Incident {
        id: r.try_get(0)?,
        repo: r.try_get(1)?,
        title: r.try_get(2)?,
        url: r.try_get(3)?,
        opened_at: r.try_get(4)?,
        closed_at: r.try_get(5)?,
    })
}
