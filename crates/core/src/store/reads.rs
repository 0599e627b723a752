//! Reads the views need. Sums are cast to BIGINT / DOUBLE PRECISION because PostgreSQL's
//! SUM(bigint) is NUMERIC, which the `Any` driver cannot decode.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use ts_rs::TS;

use super::Store;
use crate::model::error::Result;
use crate::model::*;

/// How many rows each table holds; `doctor` and the health endpoint show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Counts {
    #[ts(type = "number")]
    pub repos: i64,
    #[ts(type = "number")]
    pub branches: i64,
    #[ts(type = "number")]
    pub commits: i64,
    #[ts(type = "number")]
    pub agent_runs: i64,
    #[ts(type = "number")]
    pub change_requests: i64,
    #[ts(type = "number")]
    pub deployments: i64,
    #[ts(type = "number")]
    pub releases: i64,
    #[ts(type = "number")]
    pub experiments: i64,
    #[ts(type = "number")]
    pub spend_records: i64,
    #[ts(type = "number")]
    pub work_items: i64,
    #[ts(type = "number")]
    pub actions: i64,
    #[ts(type = "number")]
    pub audit_entries: i64,
}

fn agent_run(row: &AnyRow) -> Result<AgentRun> {
    let state: String = row.try_get("state")?;
    Ok(AgentRun {
        id: row.try_get("id")?,
        agent: row.try_get("agent")?,
        session_id: row.try_get("session_id")?,
        model: row.try_get("model")?,
        cwd: row.try_get("cwd")?,
        repo: row.try_get("repo")?,
        branch: row.try_get("branch")?,
        title: row.try_get("title")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        state: RunState::parse(&state),
        turns: row.try_get("turns")?,
        tool_calls: row.try_get("tool_calls")?,
        errors: row.try_get("errors")?,
        files_touched: row.try_get("files_touched")?,
        models: row
            .try_get::<String, _>("models")?
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
        tokens: super::tokens_of(row)?,
        cost_usd: row.try_get("cost_usd")?,
        source_path: row.try_get("source_path")?,
        skipped_lines: row.try_get("skipped_lines")?,
    })
}

impl Store {
    pub async fn counts(&self) -> Result<Counts> {
        let mut c = Counts::default();
        for (table, slot) in [
            ("repos", &mut c.repos),
            ("branches", &mut c.branches),
            ("commits", &mut c.commits),
            ("agent_runs", &mut c.agent_runs),
            ("change_requests", &mut c.change_requests),
            ("deployments", &mut c.deployments),
            ("releases", &mut c.releases),
            ("experiments", &mut c.experiments),
            ("spend_records", &mut c.spend_records),
            ("work_items", &mut c.work_items),
            ("actions", &mut c.actions),
            ("audit_entries", &mut c.audit_entries),
        ] {
            // Table names come from the fixed list above, never from input.
            *slot = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&self.pool)
                .await?;
        }
        Ok(c)
    }

    /// The repo `want` names: its identity, this machine's clone path (as given or canonical),
    /// or its name.
    pub async fn repo_named(&self, want: &str) -> Result<Option<Repo>> {
        let canonical = std::fs::canonicalize(want)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| want.to_string());
        Ok(self.repos().await?.into_iter().find(|r| {
            r.id == want
                || r.path.as_deref() == Some(canonical.as_str())
                || r.path.as_deref() == Some(want)
                || r.name == want
        }))
    }

    pub async fn branches(&self) -> Result<Vec<Branch>> {
        let rows = sqlx::query(
            "SELECT repo, name, head_sha, agent, ahead, behind, worktree_path, updated_at
             FROM branches ORDER BY repo, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Branch {
                    repo: r.try_get("repo")?,
                    name: r.try_get("name")?,
                    head_sha: r.try_get("head_sha")?,
                    agent: r.try_get("agent")?,
                    ahead: r.try_get("ahead")?,
                    behind: r.try_get("behind")?,
                    worktree_path: r.try_get("worktree_path")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Commits of `repo` stored with their diffstat unknown, after `after` in sha order (at most
    /// `limit`).
    pub async fn unknown_diffstats(
        &self,
        repo: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT sha FROM commits WHERE repo = $1 AND diffstat_known = 0 AND sha > $2
             ORDER BY sha LIMIT $3",
        )
        .bind(repo)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Commits committed in `[from, to)`, newest first.
    pub async fn commits_between(&self, from: i64, to: i64) -> Result<Vec<Commit>> {
        let rows = sqlx::query(
            "SELECT repo, sha, author_name, author_email, authored_at, committed_at, summary, agent,
               files_changed, insertions, deletions, diffstat_known
             FROM commits WHERE committed_at >= $1 AND committed_at < $2
             ORDER BY committed_at DESC, sha",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(commit_of).collect()
    }

    /// The stored commits of `repo` among `shas` (those the ingest has read), in no order.
    /// Asks for them by key, a few hundred at a time, however many the store holds.
    pub async fn commits_with(&self, repo: &str, shas: &[String]) -> Result<Vec<Commit>> {
        let mut out = Vec::with_capacity(shas.len());
        for chunk in shas.chunks(500) {
            let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let q = format!(
                "SELECT repo, sha, author_name, author_email, authored_at, committed_at, summary,
                   agent, files_changed, insertions, deletions, diffstat_known
                 FROM commits WHERE repo = $1 AND sha IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&q).bind(repo);
            for sha in chunk {
                query = query.bind(sha);
            }
            for r in query.fetch_all(&self.pool).await? {
                out.push(commit_of(&r)?);
            }
        }
        Ok(out)
    }

    /// Per repo: (repo path, commits, agent commits, newest commit time).
    pub async fn commit_stats_by_repo(&self) -> Result<Vec<(String, i64, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT repo, COUNT(*) AS n,
               CAST(SUM(CASE WHEN agent IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS agent_n,
               MAX(committed_at) AS newest
             FROM commits GROUP BY repo ORDER BY repo",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("repo")?,
                    r.try_get("n")?,
                    r.try_get("agent_n")?,
                    r.try_get("newest")?,
                ))
            })
            .collect()
    }

    pub async fn agent_run(&self, id: &str) -> Result<Option<AgentRun>> {
        sqlx::query("SELECT * FROM agent_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(agent_run)
            .transpose()
    }

    pub async fn agent_runs(&self) -> Result<Vec<AgentRun>> {
        let rows = sqlx::query("SELECT * FROM agent_runs ORDER BY started_at DESC, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agent_run).collect()
    }

    /// (repo, branch, cost) of the runs that ended in `[since, until]` ('' for a missing repo
    /// or branch). Only the window is read: a year of runs can be tens of thousands.
    pub async fn run_costs_ended(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<(String, String, f64)>> {
        let rows = sqlx::query(
            "SELECT COALESCE(repo, '') AS repo, COALESCE(branch, '') AS branch, cost_usd
             FROM agent_runs WHERE ended_at >= $1 AND ended_at <= $2",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("repo")?,
                    r.try_get("branch")?,
                    r.try_get("cost_usd")?,
                ))
            })
            .collect()
    }

    /// Every change request, newest first, with the cost of the agent runs on its branch.
    pub async fn change_requests(&self) -> Result<Vec<ChangeRequest>> {
        let rows = sqlx::query(&format!(
            "{CHANGE_REQUESTS} ORDER BY c.updated_at DESC, c.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(change_request_of).collect()
    }

    /// One change request by id.
    pub async fn change_request(&self, id: &str) -> Result<Option<ChangeRequest>> {
        let row = sqlx::query(&format!("{CHANGE_REQUESTS} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(change_request_of).transpose()
    }

    pub async fn checks(&self) -> Result<Vec<Check>> {
        let rows = sqlx::query(
            "SELECT change_request, name, status, conclusion, url, ever_failed FROM checks
             ORDER BY change_request, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(check_of).collect()
    }

    /// The checks of change request `id`, by name.
    pub async fn checks_of(&self, id: &str) -> Result<Vec<Check>> {
        let rows = sqlx::query(
            "SELECT change_request, name, status, conclusion, url, ever_failed FROM checks
             WHERE change_request = $1 ORDER BY name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(check_of).collect()
    }

    pub async fn deployments(&self) -> Result<Vec<Deployment>> {
        let rows = sqlx::query(
            "SELECT id, repo, environment, sha, status, created_at, source, contents
             FROM deployments ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(deployment_of).collect()
    }

    /// The change requests of `repo` whose head, or the commit their merge left, is among
    /// `shas`: what a deploy of those commits shipped. Asked by key, a few hundred at a time.
    pub async fn change_ids_shipping(&self, repo: &str, shas: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for chunk in shas.chunks(500) {
            let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let list = marks.join(", ");
            let q = format!(
                "SELECT id FROM change_requests
                 WHERE repo = $1 AND (head_sha IN ({list}) OR merge_sha IN ({list}))"
            );
            let mut query = sqlx::query_scalar::<_, String>(&q).bind(repo);
            for sha in chunk {
                query = query.bind(sha);
            }
            out.extend(query.fetch_all(&self.pool).await?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub async fn deployment(&self, id: &str) -> Result<Option<Deployment>> {
        let row = sqlx::query(
            "SELECT id, repo, environment, sha, status, created_at, source, contents
             FROM deployments WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(deployment_of).transpose()
    }

    /// The deploys of `repo` to `env` in (time, id) order, from `from` on when given.
    pub async fn deployments_of(
        &self,
        repo: &str,
        env: &str,
        from: Option<(i64, &str)>,
    ) -> Result<Vec<Deployment>> {
        let (at, id) = from.unwrap_or((i64::MIN, ""));
        let rows = sqlx::query(
            "SELECT id, repo, environment, sha, status, created_at, source, contents
             FROM deployments
             WHERE repo = $1 AND environment = $2
               AND (created_at > $3 OR (created_at = $3 AND id >= $4))
             ORDER BY created_at, id",
        )
        .bind(repo)
        .bind(env)
        .bind(at)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(deployment_of).collect()
    }

    /// The last successful deploy of `repo` to `env` — before `before` (a deploy's time and
    /// id) when given — in (time, id) order: what a deploy or a release is measured against.
    pub async fn last_success(
        &self,
        repo: &str,
        env: &str,
        before: Option<(i64, &str)>,
    ) -> Result<Option<Deployment>> {
        let (at, id) = before.unwrap_or((i64::MAX, ""));
        let row = sqlx::query(
            "SELECT id, repo, environment, sha, status, created_at, source, contents
             FROM deployments
             WHERE repo = $1 AND environment = $2 AND status = 'success'
               AND (created_at < $3 OR (created_at = $3 AND id < $4))
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(repo)
        .bind(env)
        .bind(at)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(deployment_of).transpose()
    }

    pub async fn releases(&self) -> Result<Vec<Release>> {
        let rows = sqlx::query(
            "SELECT id, repo, environment, name, state, created_at, approved_by, sha, run_id,
               decided_at, reason
             FROM releases ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Release {
                    id: r.try_get("id")?,
                    repo: r.try_get("repo")?,
                    environment: r.try_get("environment")?,
                    name: r.try_get("name")?,
                    state: super::named(r, "state", "release state")?,
                    created_at: r.try_get("created_at")?,
                    approved_by: r.try_get("approved_by")?,
                    sha: r.try_get("sha")?,
                    run_id: r.try_get("run_id")?,
                    decided_at: r.try_get("decided_at")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    pub async fn experiments(&self) -> Result<Vec<Experiment>> {
        self.experiments_matching("").await
    }

    /// Experiment `id` with its variants, or every experiment when `id` is empty (no stored
    /// id is: an import refuses one).
    pub(super) async fn experiments_matching(&self, id: &str) -> Result<Vec<Experiment>> {
        let (by_id, by_experiment) = (
            super::experiments::one_or_all(id, "id"),
            super::experiments::one_or_all(id, "experiment"),
        );
        let rows = sqlx::query(&format!(
            "SELECT id, name, metric, state, started_at FROM experiments
             WHERE {by_id} ORDER BY started_at DESC, id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let variants = sqlx::query(&format!(
            "SELECT experiment, name, units, conversions, weight FROM experiment_variants
             WHERE {by_experiment}
             ORDER BY experiment, position, CASE WHEN name = 'control' THEN 0 ELSE 1 END, name"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut by_experiment: std::collections::HashMap<String, Vec<Variant>> =
            std::collections::HashMap::new();
        for v in &variants {
            by_experiment
                .entry(v.try_get("experiment")?)
                .or_default()
                .push(Variant {
                    name: v.try_get("name")?,
                    units: v.try_get("units")?,
                    conversions: v.try_get("conversions")?,
                    weight: v.try_get("weight")?,
                });
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id")?;
            let vs = by_experiment.remove(&id).unwrap_or_default();
            out.push(Experiment {
                id,
                name: r.try_get("name")?,
                metric: r.try_get("metric")?,
                state: super::named(r, "state", "experiment state")?,
                started_at: r.try_get("started_at")?,
                variants: vs,
            });
        }
        Ok(out)
    }

    pub async fn spend_records(&self) -> Result<Vec<SpendRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM spend_records ORDER BY day, vendor, model, agent, repo, person",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SpendRecord {
                    vendor: r.try_get("vendor")?,
                    model: r.try_get("model")?,
                    day: r.try_get("day")?,
                    source: r.try_get("source")?,
                    agent: r.try_get("agent")?,
                    repo: r.try_get("repo")?,
                    person: r.try_get("person")?,
                    tokens: super::tokens_of(r)?,
                    cost_usd: r.try_get("cost_usd")?,
                    unpriced_tokens: r.try_get("unpriced_tokens")?,
                })
            })
            .collect()
    }

    /// Every work item with its links, most recently changed first.
    pub async fn work_items(&self) -> Result<Vec<WorkItem>> {
        let rows = sqlx::query(
            "SELECT id, title, body, repo, assignee, state, source, created_at, updated_at,
               labels
             FROM work_items ORDER BY updated_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let links: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT work_item, kind, target FROM work_links ORDER BY work_item, kind, target",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let links = links
                    .iter()
                    .filter(|(w, _, _)| *w == id)
                    .map(|(_, kind, target)| {
                        Ok(crate::model::WorkLink {
                            kind: super::parse_named(kind.clone(), "work link kind")?,
                            target: target.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(WorkItem {
                    id,
                    title: r.try_get("title")?,
                    body: r.try_get("body")?,
                    repo: r.try_get("repo")?,
                    assignee: r.try_get("assignee")?,
                    state: super::named(r, "state", "work item state")?,
                    source: super::named(r, "source", "work item source")?,
                    // Written by this code as a JSON array; anything else reads as none.
                    labels: serde_json::from_str(&r.try_get::<String, _>("labels")?)
                        .unwrap_or_default(),
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                    links,
                })
            })
            .collect()
    }

    /// Whether an audit entry already carries this device signature.
    pub async fn audit_has_device_signature(&self, signature: &str) -> Result<bool> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_entries WHERE device_signature = $1")
                .bind(signature)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    pub async fn audit_entries(&self) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, detail, prev_hash, hash, signer, signature,
                    device_key, device_signature
             FROM audit_entries ORDER BY seq DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                    signer: r.try_get("signer")?,
                    signature: r.try_get("signature")?,
                    device_key: r.try_get("device_key")?,
                    device_signature: r.try_get("device_signature")?,
                })
            })
            .collect()
    }

    pub async fn cursor(&self, source: &str, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar(
                "SELECT position FROM ingest_cursors WHERE source = $1 AND key = $2",
            )
            .bind(source)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?,
        )
    }
}

impl Store {
    /// The paths stored for a change request at `head_sha`; `None` when none are known for
    /// that head.
    pub async fn change_files(&self, change: &str, head_sha: &str) -> Result<Option<Vec<String>>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT head_sha, path FROM change_files WHERE change_request = $1 ORDER BY path",
        )
        .bind(change)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() || rows.iter().any(|(h, _)| h != head_sha) {
            return Ok(None);
        }
        Ok(Some(rows.into_iter().map(|(_, p)| p).collect()))
    }
}

/// Change requests with the cost of the agent runs on the same repo and branch.
const CHANGE_REQUESTS: &str = "SELECT c.*, CAST(COALESCE((SELECT SUM(r.cost_usd) FROM agent_runs r
         WHERE r.repo = c.repo AND r.branch = c.head), 0) AS DOUBLE PRECISION) AS agent_cost
     FROM change_requests c";

fn change_request_of(r: &sqlx::any::AnyRow) -> Result<ChangeRequest> {
    let author_kind: String = r.try_get("author_kind")?;
    let author: String = r.try_get("author")?;
    Ok(ChangeRequest {
        id: r.try_get("id")?,
        kind: super::named(r, "kind", "change kind")?,
        repo: r.try_get("repo")?,
        title: r.try_get("title")?,
        head: r.try_get("head")?,
        base: r.try_get("base")?,
        head_sha: r.try_get("head_sha")?,
        author: if author_kind == "agent" {
            Author::Agent { agent: author }
        } else {
            Author::Human { name: author }
        },
        state: super::named(r, "state", "change state")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        commits: r.try_get("commits")?,
        files_changed: known_stat(r, "files_changed")?,
        insertions: known_stat(r, "insertions")?,
        deletions: known_stat(r, "deletions")?,
        agent_cost_usd: r.try_get("agent_cost")?,
        labels: names(r, "labels")?,
        requested_reviewers: names(r, "requested_reviewers")?,
        mergeable: super::named_opt(r, "mergeable", "mergeable state")?,
        merged_at: r.try_get("merged_at")?,
        first_commit_at: r.try_get("first_commit_at")?,
    })
}

/// A JSON array of names, as the change request columns keep them.
fn names(r: &sqlx::any::AnyRow, column: &str) -> Result<Vec<String>> {
    let text: String = r.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| crate::Error::Invalid {
        path: format!("change_requests.{column}").into(),
        message: e.to_string(),
    })
}

/// A diffstat column of a row with `diffstat_known`: none when it is not known.
fn known_stat(r: &AnyRow, column: &str) -> Result<Option<i64>> {
    Ok(if r.try_get::<i64, _>("diffstat_known")? == 1 {
        Some(r.try_get(column)?)
    } else {
        None
    })
}

fn commit_of(r: &AnyRow) -> Result<Commit> {
    let stat = |column: &str| known_stat(r, column);
    Ok(Commit {
        repo: r.try_get("repo")?,
        sha: r.try_get("sha")?,
        author_name: r.try_get("author_name")?,
        author_email: r.try_get("author_email")?,
        authored_at: r.try_get("authored_at")?,
        committed_at: r.try_get("committed_at")?,
        summary: r.try_get("summary")?,
        agent: r.try_get("agent")?,
        files_changed: stat("files_changed")?,
        insertions: stat("insertions")?,
        deletions: stat("deletions")?,
    })
}

pub(super) fn deployment_of(r: &AnyRow) -> Result<Deployment> {
    Ok(Deployment {
        id: r.try_get("id")?,
        repo: r.try_get("repo")?,
        environment: r.try_get("environment")?,
        sha: r.try_get("sha")?,
        status: super::named(r, "status", "deploy status")?,
        created_at: r.try_get("created_at")?,
        source: r.try_get("source")?,
        contents: super::named(r, "contents", "deploy contents")?,
    })
}

fn check_of(r: &AnyRow) -> Result<Check> {
    Ok(Check {
        change_request: r.try_get("change_request")?,
        name: r.try_get("name")?,
        status: r.try_get("status")?,
        conclusion: r.try_get("conclusion")?,
        url: r.try_get("url")?,
        ever_failed: r.try_get::<i64, _>("ever_failed")? != 0,
    })
}
