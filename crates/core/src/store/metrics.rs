//! The aggregate reads the metrics are computed from (`crate::metrics::concentration`, `crate::metrics::cycle`,
//! `crate::metrics::dora`, `crate::metrics::reports`, `crate::metrics::value`): sums and joins over the stored records,
//! each returning plain rows for the metric's own rules.

use sqlx::Row;

use super::{tokens_of, Store, USAGE_SUMS};
use crate::model::error::Result;
use crate::model::Tokens;

/// What a usage report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageBy {
    Day,
    Month,
    Model,
    Agent,
    Session,
    Repo,
}

impl UsageBy {
    fn column(self) -> &'static str {
        match self {
            UsageBy::Day => "u.day",
            UsageBy::Month => "SUBSTR(u.day, 1, 7)",
            UsageBy::Model => "u.model",
            UsageBy::Agent => "u.agent",
            UsageBy::Session => "u.agent || ':' || u.session_id",
            UsageBy::Repo => "u.repo",
        }
    }
}

/// What a spend report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendBy {
    Vendor,
    Model,
    Agent,
    Repo,
    /// Who launched the work (the user of the machine that read the logs).
    Person,
    Day,
    /// ISO weeks, named by their Monday (the store groups by day; the report folds the days).
    Week,
    Month,
}

impl SpendBy {
    fn column(self) -> &'static str {
        match self {
            SpendBy::Vendor => "u.vendor",
            SpendBy::Model => "u.model",
            SpendBy::Agent => "u.agent",
            SpendBy::Repo => "u.repo",
            SpendBy::Person => "u.person",
            SpendBy::Day | SpendBy::Week => "u.day",
            SpendBy::Month => "SUBSTR(u.day, 1, 7)",
        }
    }
}

/// The sums a spend report reads (the rollup's own column names).
const SPEND_SUMS: &str = "CAST(SUM(u.input_tokens) AS BIGINT) AS input_tokens,
   CAST(SUM(u.output_tokens) AS BIGINT) AS output_tokens,
   CAST(SUM(u.cache_write_tokens) AS BIGINT) AS cache_write_tokens,
   CAST(SUM(u.cache_read_tokens) AS BIGINT) AS cache_read_tokens,
   CAST(SUM(u.reasoning_tokens) AS BIGINT) AS reasoning_tokens,
   CAST(SUM(u.cost_usd) AS DOUBLE PRECISION) AS cost,
   CAST(SUM(u.unpriced_tokens) AS BIGINT) AS unpriced_tokens";

/// A model seen in agent logs without a price: what `flightdeck prices check` lists.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnpricedModel {
    pub model: String,
    pub tokens: i64,
    pub requests: i64,
    pub first_day: String,
    pub last_day: String,
}

/// A merged change an agent authored, with one agent run on its branch (`None` when no run
/// matches; a change with several runs comes once per run).
#[derive(Debug, Clone)]
pub struct MergedAgentChange {
    pub id: String,
    pub author: String,
    /// The run's (agent, model).
    pub run: Option<(String, String)>,
}

/// A merged change's moments, for its cycle-time phases.
#[derive(Debug, Clone)]
pub struct MergedTimes {
    pub id: String,
    /// Authored by an agent.
    pub agent: bool,
    pub opened: i64,
    pub first_commit: Option<i64>,
    pub merged: i64,
    /// The first review, whenever given.
    pub reviewed: Option<i64>,
    pub head: String,
    pub merge_sha: Option<String>,
}

impl Store {
    /// (group, tokens, cost) of the usage from agent logs on the inclusive days given, each
    /// billed record counted once, in group order.
    pub async fn usage_sums(
        &self,
        by: UsageBy,
        since: &str,
        until: &str,
    ) -> Result<Vec<(String, Tokens, f64)>> {
        // The grouping expression comes from the fixed enum, never from input. Every grouping
        // but session is read from the per-day rollup the ingest keeps (spend records from
        // logs), so a report costs the same however many requests the logs hold.
        let key = by.column();
        let sql = if by == UsageBy::Session {
            format!(
                "SELECT {key} AS k, {USAGE_SUMS}
                 FROM usage_entries u
                 WHERE u.canonical = 1 AND u.day >= $1 AND u.day <= $2
                 GROUP BY {key} ORDER BY {key}"
            )
        } else {
            format!(
                "SELECT {key} AS k, {USAGE_SUMS}
                 FROM spend_records u
                 WHERE u.source = 'logs' AND u.day >= $1 AND u.day <= $2
                 GROUP BY {key} ORDER BY {key}"
            )
        };
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(until)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("k")?, tokens_of(r)?, r.try_get("cost")?)))
            .collect()
    }

    /// (group, tokens, cost, unpriced tokens) of the spend from every source on the inclusive
    /// days given, from the per-day rollup, in group order.
    pub async fn spend_sums(
        &self,
        by: SpendBy,
        since: &str,
        until: &str,
    ) -> Result<Vec<(String, Tokens, f64, i64)>> {
        // A fixed expression from the enum, never from input.
        let key = by.column();
        let sql = format!(
            "SELECT {key} AS k, {SPEND_SUMS}
             FROM spend_records u WHERE u.day >= $1 AND u.day <= $2
             GROUP BY {key} ORDER BY {key}"
        );
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(until)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("k")?,
                    tokens_of(r)?,
                    r.try_get("cost")?,
                    r.try_get("unpriced_tokens")?,
                ))
            })
            .collect()
    }

    /// The models used on the inclusive days given that have no price, in name order.
    pub async fn unpriced_model_names(&self, since: &str, until: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT model FROM spend_records
             WHERE day >= $1 AND day <= $2 AND unpriced_tokens > 0 ORDER BY model",
        )
        .bind(since)
        .bind(until)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every model seen in agent logs without a price, with its usage, in name order.
    pub async fn unpriced_models(&self) -> Result<Vec<UnpricedModel>> {
        let rows = sqlx::query(
            "SELECT model, CAST(SUM(input_tokens + output_tokens + cache_write_tokens
                 + cache_read_tokens) AS BIGINT) AS tokens,
               CAST(COUNT(*) AS BIGINT) AS requests, MIN(day) AS first_day, MAX(day) AS last_day
             FROM usage_entries WHERE canonical = 1 AND priced = 0
             GROUP BY model ORDER BY model",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UnpricedModel {
                    model: r.try_get("model")?,
                    tokens: r.try_get("tokens")?,
                    requests: r.try_get("requests")?,
                    first_day: r.try_get("first_day")?,
                    last_day: r.try_get("last_day")?,
                })
            })
            .collect()
    }

    /// The merged changes of `repo` with their moments.
    pub async fn merged_change_times(&self, repo: &str) -> Result<Vec<MergedTimes>> {
        let rows = sqlx::query(
            "SELECT c.id, c.author_kind, c.created_at, c.first_commit_at, c.merged_at, c.head_sha,
               c.merge_sha,
               (SELECT min(r.at) FROM reviews r WHERE r.change_request = c.id) AS reviewed
             FROM change_requests c WHERE c.repo = $1 AND c.merged_at IS NOT NULL",
        )
        .bind(repo)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let Some(merged) = r.try_get::<Option<i64>, _>("merged_at")? else {
                continue;
            };
            out.push(MergedTimes {
                id: r.try_get("id")?,
                agent: r.try_get::<String, _>("author_kind")? == "agent",
                opened: r.try_get("created_at")?,
                first_commit: r.try_get("first_commit_at")?,
                merged,
                reviewed: r.try_get("reviewed")?,
                head: r.try_get("head_sha")?,
                merge_sha: r.try_get("merge_sha")?,
            });
        }
        Ok(out)
    }

    /// (sha, environment, first successful deploy) of every merged head and merge commit of
    /// `repo` that a deploy shipped.
    pub async fn merges_first_deployed(&self, repo: &str) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT dc.sha, d.environment, min(d.created_at)
             FROM deploy_commits dc JOIN deployments d ON d.id = dc.deployment
             WHERE dc.repo = $1 AND d.status = 'success' AND dc.sha IN
               (SELECT head_sha FROM change_requests WHERE repo = $2 AND merged_at IS NOT NULL
                UNION
                SELECT merge_sha FROM change_requests
                WHERE repo = $3 AND merged_at IS NOT NULL AND merge_sha IS NOT NULL)
             GROUP BY dc.sha, d.environment",
        )
        .bind(repo)
        .bind(repo)
        .bind(repo)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// (day number since the epoch, author kind, changes) merged in `[since, until)`, of `repo`
    /// or of all.
    pub async fn merges_per_day(
        &self,
        repo: Option<&str>,
        since: i64,
        until: i64,
    ) -> Result<Vec<(i64, String, i64)>> {
        let repo_clause = if repo.is_some() { " AND repo = $3" } else { "" };
        let q = format!(
            "SELECT merged_at / 86400, author_kind, count(*) FROM change_requests
             WHERE merged_at >= $1 AND merged_at < $2{repo_clause}
             GROUP BY merged_at / 86400, author_kind"
        );
        let mut query = sqlx::query(&q).bind(since).bind(until);
        if let Some(r) = repo {
            query = query.bind(r);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// The agent-authored changes merged since `since_ts`, joined to the runs on their branch.
    pub async fn merged_agent_changes(&self, since_ts: i64) -> Result<Vec<MergedAgentChange>> {
        let rows = sqlx::query(
            "SELECT c.id, c.author, r.agent, r.model FROM change_requests c
             LEFT JOIN agent_runs r ON r.branch = c.head AND (c.kind = 'github' OR r.repo = c.repo)
             WHERE c.state = 'merged' AND c.author_kind = 'agent' AND c.updated_at >= $1",
        )
        .bind(since_ts)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let agent: Option<String> = r.try_get("agent")?;
                let run = match agent {
                    Some(agent) => Some((agent, r.try_get("model")?)),
                    None => None,
                };
                Ok(MergedAgentChange {
                    id: r.try_get("id")?,
                    author: r.try_get("author")?,
                    run,
                })
            })
            .collect()
    }

    /// (repo or '', agent, model, runs) of the agent runs started since `since_ts`.
    pub async fn run_counts_since(
        &self,
        since_ts: i64,
    ) -> Result<Vec<(String, String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT COALESCE(repo, '') AS repo, agent, model, CAST(COUNT(*) AS BIGINT) AS n
             FROM agent_runs WHERE started_at >= $1 GROUP BY COALESCE(repo, ''), agent, model",
        )
        .bind(since_ts)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("repo")?,
                    r.try_get("agent")?,
                    r.try_get("model")?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }
}

impl Store {
    /// The ids of the runs whose usage was read by a machine whose user goes by one of `names`
    /// (lower case).
    pub async fn runs_launched_by(
        &self,
        names: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let people: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT person FROM usage_entries WHERE person <> ''")
                .fetch_all(self.pool())
                .await?;
        let mut out = std::collections::HashSet::new();
        for p in people.iter().filter(|p| names.contains(&p.to_lowercase())) {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT r.id FROM agent_runs r
                 JOIN usage_entries u ON u.agent = r.agent AND u.session_id = r.session_id
                 WHERE u.person = $1",
            )
            .bind(p)
            .fetch_all(self.pool())
            .await?;
            out.extend(ids);
        }
        Ok(out)
    }

    /// The changes merged in `[since, until)`: (id, author kind, author, the person who launched
    /// the agent runs on its branch, when any did).
    pub async fn merged_change_people(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<(String, String, String, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT c.id, c.author_kind, c.author,
               (SELECT MIN(u.person) FROM agent_runs r
                  JOIN usage_entries u ON u.agent = r.agent AND u.session_id = r.session_id
                WHERE r.branch = c.head AND (c.kind = 'github' OR r.repo = c.repo)
                  AND u.person <> '') AS launcher
             FROM change_requests c
             WHERE c.state = 'merged' AND c.merged_at >= $1 AND c.merged_at < $2
             ORDER BY c.id",
        )
        .bind(since)
        .bind(until)
        .fetch_all(self.pool())
        .await?)
    }
}
