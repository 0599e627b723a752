//! Deploy contents: the commits each deploy shipped, written once computed from the graph; and
//! the incidents DORA attributes to deploys.

use sqlx::Row;

use super::Store;
use crate::model::error::Result;

/// What DORA's measuring reads of one deploy: when, how it ended, and the marks it carries
/// (whether it ships a fix; the gap to the next finished deploy when that one does).
#[derive(Debug, Clone)]
pub struct DeployMark {
    pub id: String,
    pub at: i64,
    pub status: crate::model::DeployStatus,
    pub fixes: i64,
    pub next_fix: Option<i64>,
}

/// The production deploys DORA looks at: those to `production` created in `[since, until)`, of
/// `repo` or of all; a deploy counts as failed when its status says so or when the next one
/// ships a fix within `incident_window_secs`.
#[derive(Debug, Clone, Copy)]
pub struct DeployWindow<'a> {
    pub production: &'a str,
    pub since: i64,
    pub until: i64,
    pub incident_window_secs: i64,
    pub repo: Option<&'a str>,
}

impl DeployWindow<'_> {
    /// `q` with the parameters both queries take: $1 production, $2 since, $3 until, $4 the
    /// incident window, $5 the repo when one is asked for.
    fn bind<'q>(
        &'q self,
        q: &'q str,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let query = sqlx::query(q)
            .bind(self.production)
            .bind(self.since)
            .bind(self.until)
            .bind(self.incident_window_secs);
        match self.repo {
            Some(r) => query.bind(r),
            None => query,
        }
    }

    fn repo_clause(&self, column: &str) -> String {
        if self.repo.is_some() {
            format!(" AND {column} = $5")
        } else {
            String::new()
        }
    }
}

/// Counts of a window's finished deploys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeployTallies {
    /// Succeeded or failed.
    pub finished: i64,
    /// Succeeded.
    pub good: i64,
    /// Failed, by status or by the fix that followed.
    pub failed: i64,
    /// Succeeded by status, failed by the fix that followed.
    pub incidents: i64,
    /// Days with a successful deploy.
    pub deploy_days: i64,
}

/// A deploy failed by its status, or when the next one (within the window) ships a fix.
const FAILED: &str = "(status = 'failure' OR next_fix_secs <= $4)";

impl Store {
    pub async fn deploy_tallies(&self, w: &DeployWindow<'_>) -> Result<DeployTallies> {
        // PostgreSQL sums BIGINT as NUMERIC, which the Any driver cannot read: cast back.
        let q = format!(
            "SELECT count(*),
               CAST(COALESCE(sum(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0) AS BIGINT),
               CAST(COALESCE(sum(CASE WHEN {FAILED} THEN 1 ELSE 0 END), 0) AS BIGINT),
               CAST(COALESCE(sum(CASE WHEN status = 'success' AND next_fix_secs <= $4 THEN 1 ELSE 0 END), 0)
                 AS BIGINT),
               count(DISTINCT CASE WHEN status = 'success' THEN created_at / 86400 END)
             FROM deployments
             WHERE environment = $1 AND status IN ('success', 'failure')
               AND created_at >= $2 AND created_at < $3{}",
            w.repo_clause("repo")
        );
        let row = w.bind(&q).fetch_one(self.pool()).await?;
        Ok(DeployTallies {
            finished: row.try_get(0)?,
            good: row.try_get(1)?,
            failed: row.try_get(2)?,
            incidents: row.try_get(3)?,
            deploy_days: row.try_get(4)?,
        })
    }

    /// (id, created at, when the next successful deploy of its repo that did not fail itself
    /// came) of each failed deploy of the window.
    pub async fn failed_deploys(
        &self,
        w: &DeployWindow<'_>,
    ) -> Result<Vec<(String, i64, Option<i64>)>> {
        let q = format!(
            "SELECT d.id, d.created_at,
               (SELECT n.created_at FROM deployments n
                WHERE n.repo = d.repo AND n.environment = d.environment AND n.status = 'success'
                  AND (n.next_fix_secs IS NULL OR n.next_fix_secs > $4)
                  AND n.created_at >= d.created_at
                  AND NOT (n.created_at = d.created_at AND n.id <= d.id)
                ORDER BY n.created_at, n.id LIMIT 1)
             FROM deployments d
             WHERE d.environment = $1 AND d.status IN ('success', 'failure')
               AND d.created_at >= $2 AND d.created_at < $3
               AND (d.status = 'failure' OR d.next_fix_secs <= $4){}",
            w.repo_clause("d.repo")
        );
        let rows = w.bind(&q).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// The deploys of `repo` to `env`, oldest first, with their fix marks.
    pub async fn deploy_marks(&self, repo: &str, env: &str) -> Result<Vec<DeployMark>> {
        let rows = sqlx::query(
            "SELECT id, created_at, status, fixes, next_fix_secs FROM deployments
             WHERE repo = $1 AND environment = $2 ORDER BY created_at, id",
        )
        .bind(repo)
        .bind(env)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeployMark {
                    id: r.try_get("id")?,
                    at: r.try_get("created_at")?,
                    status: super::named(r, "status", "deploy status")?,
                    fixes: r.try_get("fixes")?,
                    next_fix: r.try_get("next_fix_secs")?,
                })
            })
            .collect()
    }

    /// Sets a deploy's fix marks (see `DeployMark`).
    pub async fn set_deploy_fix(&self, id: &str, fixes: i64, next_fix: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE deployments SET fixes = $1, next_fix_secs = $2 WHERE id = $3")
            .bind(fixes)
            .bind(next_fix)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The environments `repo` has deployed to.
    pub async fn deploy_environments(&self, repo: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT environment FROM deployments WHERE repo = $1")
                .bind(repo)
                .fetch_all(self.pool())
                .await?,
        )
    }

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
        self.reverted_summaries_since(i64::MIN).await
    }

    /// [`Store::reverted_summaries`] of the commits committed at or after `since`.
    pub async fn reverted_summaries_since(&self, since: i64) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT repo, summary FROM commits WHERE committed_at >= $1 AND summary LIKE 'Revert \"%'",
        )
        .bind(since)
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
