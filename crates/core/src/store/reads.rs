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
        self.work_items_where("1 = 1", &[]).await
    }

    /// Work items not done or dropped, and those that ended at or after `since`.
    pub async fn work_items_open_or_since(&self, since: i64) -> Result<Vec<WorkItem>> {
        self.work_items_where(
            "(state NOT IN ('done', 'dropped') OR updated_at >= $1)",
            &[Arg::Int(since)],
        )
        .await
    }

    /// (when, assignee) of each work item done at or after `since`.
    pub async fn work_done_since(&self, since: i64) -> Result<Vec<(i64, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT updated_at, assignee FROM work_items WHERE state = $1 AND updated_at >= $2",
        )
        .bind(crate::model::WorkState::Done.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Work item `id`, if there is one.
    pub async fn work_item(&self, id: &str) -> Result<Option<WorkItem>> {
        Ok(self
            .work_items_where("id = $1", &[Arg::Text(id)])
            .await?
            .pop())
    }

    /// The work items that came from `source` in repo `repo`.
    pub async fn work_items_from(
        &self,
        source: crate::model::WorkSource,
        repo: &str,
    ) -> Result<Vec<WorkItem>> {
        self.work_items_where(
            "source = $1 AND repo = $2",
            &[Arg::Text(source.as_str()), Arg::Text(repo)],
        )
        .await
    }

    /// Work items linked to one of the change requests `ids`, or to one of `branches`.
    pub async fn work_items_linked(
        &self,
        ids: &[&str],
        branches: &[&str],
    ) -> Result<Vec<WorkItem>> {
        let mut found = std::collections::BTreeSet::new();
        for (kind, targets) in [("change", ids), ("branch", branches)] {
            for chunk in targets.chunks(PER_STATEMENT) {
                let sql = format!(
                    "SELECT work_item FROM work_links WHERE kind = $1 AND target IN ({})",
                    marks(2, chunk.len())
                );
                let mut q = sqlx::query_scalar::<_, String>(&sql).bind(kind);
                for t in chunk {
                    q = q.bind(*t);
                }
                found.extend(q.fetch_all(&self.pool).await?);
            }
        }
        let mut out = Vec::new();
        let found: Vec<String> = found.into_iter().collect();
        for chunk in found.chunks(PER_STATEMENT) {
            let cond = format!("id IN ({})", marks(1, chunk.len()));
            let args: Vec<Arg> = chunk.iter().map(|id| Arg::Text(id)).collect();
            out.extend(self.work_items_where(&cond, &args).await?);
        }
        out.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Work items matching `cond` (SQL over `work_items`, `$1`… bound to `args`), newest
    /// first, with their links.
    async fn work_items_where(&self, cond: &str, args: &[Arg<'_>]) -> Result<Vec<WorkItem>> {
        let sql = format!(
            "SELECT id, title, body, repo, assignee, state, source, created_at, updated_at,
               labels
             FROM work_items WHERE {cond} ORDER BY updated_at DESC, id"
        );
        let rows = Arg::bind_all(sqlx::query(&sql), args)
            .fetch_all(&self.pool)
            .await?;
        let links_sql = format!(
            "SELECT work_item, kind, target FROM work_links WHERE work_item IN
               (SELECT id FROM work_items WHERE {cond}) ORDER BY work_item, kind, target"
        );
        let links = Arg::bind_all(sqlx::query(&links_sql), args)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<(String, String, String)>>>()?;
        self.work_items_of(&rows, links)
    }

    /// Items from their rows and links (grouped once: a team has 10,000s of each).
    fn work_items_of(
        &self,
        rows: &[AnyRow],
        links: Vec<(String, String, String)>,
    ) -> Result<Vec<WorkItem>> {
        let mut by_item: std::collections::HashMap<String, Vec<crate::model::WorkLink>> =
            std::collections::HashMap::new();
        for (w, kind, target) in links {
            by_item.entry(w).or_default().push(crate::model::WorkLink {
                kind: super::parse_named(kind, "work link kind")?,
                target,
            });
        }
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let links = by_item.remove(&id).unwrap_or_default();
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

/// What the Changes view shows, read by index: every open change request, the `recent`
/// closed or merged ones updated last, and for those only their checks, reviews, linked agent
/// runs and stored paths. (A store of years holds 100,000s of merged changes and tens of
/// thousands of runs; reading them all for each view was most of its time.)
#[derive(Debug, Default)]
pub struct ChangeListing {
    /// Newest first.
    pub changes: Vec<ChangeRequest>,
    /// Closed and merged change requests not listed.
    pub closed_not_listed: i64,
    pub checks: Vec<Check>,
    /// Oldest first.
    pub reviews: Vec<Review>,
    /// Runs on a listed change's repo and branch, newest first.
    pub runs: Vec<AgentRun>,
    /// Change request id → (head it was stored for, paths).
    pub files: std::collections::HashMap<String, (String, Vec<String>)>,
}

/// `$from, $from+1, …` for `n` values.
fn marks(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(a = $1 AND b = $2) OR (a = $3 AND b = $4) OR …` for `n` pairs: a lookup of pairs (repo
/// and branch) that the index on both columns serves.
fn pair_condition(a: &str, b: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("({a} = ${} AND {b} = ${})", 2 * i + 1, 2 * i + 2))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Ids (and heads) asked for a few hundred at a time: a statement's values are limited.
const PER_STATEMENT: usize = 400;

impl Store {
    /// The rows of `select` (ending in `WHERE …` or `AND`) for each of `pairs`, columns `a` and
    /// `b` matched by [`pair_condition`]: each pair once, a few hundred a statement.
    async fn rows_on_pairs(
        &self,
        select: &str,
        (a, b): (&str, &str),
        pairs: &[(&str, &str)],
    ) -> Result<Vec<AnyRow>> {
        let mut pairs = pairs.to_vec();
        pairs.sort_unstable();
        pairs.dedup();
        let mut out = Vec::new();
        for chunk in pairs.chunks(PER_STATEMENT / 2) {
            let sql = format!("{select} ({})", pair_condition(a, b, chunk.len()));
            let mut q = sqlx::query(&sql);
            for (x, y) in chunk {
                q = q.bind(*x).bind(*y);
            }
            out.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }
}

impl Store {
    /// The Changes view's rows and what judging them reads; see [`ChangeListing`].
    pub async fn change_listing(&self, recent: i64) -> Result<ChangeListing> {
        // The ids first, each by index: the open ones, and the newest of each closed state.
        let mut ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM change_requests WHERE state = 'open'")
                .fetch_all(&self.pool)
                .await?;
        let mut closed: Vec<(i64, String)> = Vec::new();
        let mut closed_total = 0i64;
        for state in [ChangeState::Merged, ChangeState::Closed] {
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT updated_at, id FROM change_requests WHERE state = $1
                 ORDER BY updated_at DESC, id LIMIT $2",
            )
            .bind(state.as_str())
            .bind(recent.max(0))
            .fetch_all(&self.pool)
            .await?;
            closed.extend(rows);
            closed_total += sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM change_requests WHERE state = $1",
            )
            .bind(state.as_str())
            .fetch_one(&self.pool)
            .await?;
        }
        closed.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        closed.truncate(recent.max(0) as usize);
        let listed_closed = closed.len() as i64;
        ids.extend(closed.into_iter().map(|(_, id)| id));
        // A change merged between the reads above is in both lists: once is enough.
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));

        let mut out = ChangeListing {
            closed_not_listed: (closed_total - listed_closed).max(0),
            ..Default::default()
        };
        for chunk in ids.chunks(PER_STATEMENT) {
            let m = marks(1, chunk.len());
            let sqls = [
                format!("{CHANGE_REQUESTS} WHERE c.id IN ({m})"),
                format!(
                    "SELECT change_request, name, status, conclusion, url, ever_failed FROM checks
                     WHERE change_request IN ({m})"
                ),
                format!(
                    "SELECT action_key, change_request, head_sha, reviewer, state, body, at
                     FROM reviews WHERE change_request IN ({m})"
                ),
                format!(
                    "SELECT change_request, head_sha, path FROM change_files
                     WHERE change_request IN ({m}) ORDER BY change_request, path"
                ),
            ];
            let mut results = Vec::with_capacity(sqls.len());
            for sql in &sqls {
                let mut q = sqlx::query(sql);
                for id in chunk {
                    q = q.bind(id);
                }
                results.push(q.fetch_all(&self.pool).await?);
            }
            for r in &results[0] {
                out.changes.push(change_request_of(r)?);
            }
            for r in &results[1] {
                out.checks.push(check_of(r)?);
            }
            for r in &results[2] {
                out.reviews.push(super::outbox::review_of(r)?);
            }
            for r in &results[3] {
                let (change, head, path): (String, String, String) =
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                let entry = out
                    .files
                    .entry(change)
                    .or_insert_with(|| (head.clone(), Vec::new()));
                // Rows of two heads (a write in between): none is the head's, as `change_files`.
                if entry.0 != head {
                    entry.0.clear();
                }
                entry.1.push(path);
            }
        }
        let pairs: Vec<(&str, &str)> = out
            .changes
            .iter()
            .map(|c| (c.repo.as_str(), c.head.as_str()))
            .collect();
        out.runs = self.runs_on_branches(&pairs).await?;
        out.changes.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        out.checks
            .sort_by(|a, b| (&a.change_request, &a.name).cmp(&(&b.change_request, &b.name)));
        out.reviews.sort_by(|a, b| {
            a.at.cmp(&b.at)
                .then_with(|| a.action_key.cmp(&b.action_key))
        });
        Ok(out)
    }
}

impl Store {
    /// The open change requests, newest first, and their checks: what the inbox and the
    /// velocity report need of them (neither reads their reviews, runs or paths).
    pub async fn open_changes(&self) -> Result<(Vec<ChangeRequest>, Vec<Check>)> {
        let rows = sqlx::query(&format!("{CHANGE_REQUESTS} WHERE c.state = 'open'"))
            .fetch_all(&self.pool)
            .await?;
        let mut changes = rows
            .iter()
            .map(change_request_of)
            .collect::<Result<Vec<_>>>()?;
        changes.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        let rows = sqlx::query(
            "SELECT change_request, name, status, conclusion, url, ever_failed FROM checks
             WHERE change_request IN (SELECT id FROM change_requests WHERE state = 'open')
             ORDER BY change_request, name",
        )
        .fetch_all(&self.pool)
        .await?;
        let checks = rows.iter().map(check_of).collect::<Result<Vec<_>>>()?;
        Ok((changes, checks))
    }
}

/// One agent's totals over all its runs (the Agents view's cards).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentTotals {
    pub agent: String,
    pub runs: i64,
    pub running: i64,
    pub tokens: Tokens,
    pub cost_usd: f64,
}

impl Store {
    /// Every agent's totals, by name, summed by the database.
    pub async fn agent_totals(&self) -> Result<Vec<AgentTotals>> {
        let rows = sqlx::query(
            "SELECT agent, CAST(COUNT(*) AS BIGINT) AS runs,
               CAST(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS BIGINT) AS running,
               CAST(SUM(input_tokens) AS BIGINT) AS input_tokens,
               CAST(SUM(output_tokens) AS BIGINT) AS output_tokens,
               CAST(SUM(cache_write_tokens) AS BIGINT) AS cache_write_tokens,
               CAST(SUM(cache_read_tokens) AS BIGINT) AS cache_read_tokens,
               CAST(SUM(reasoning_tokens) AS BIGINT) AS reasoning_tokens,
               CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS cost_usd
             FROM agent_runs GROUP BY agent",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(AgentTotals {
                    agent: r.try_get("agent")?,
                    runs: r.try_get("runs")?,
                    running: r.try_get("running")?,
                    tokens: super::tokens_of(r)?,
                    cost_usd: r.try_get("cost_usd")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // In Rust's order, whatever the database's collation.
        out.sort_by(|a, b| a.agent.cmp(&b.agent));
        Ok(out)
    }

    /// The runs still going (running or waiting) and the `recent` started last, newest first.
    pub async fn listed_runs(&self, recent: i64) -> Result<Vec<AgentRun>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM agent_runs WHERE state IN ('running', 'idle')
               OR id IN (SELECT id FROM agent_runs ORDER BY started_at DESC, id LIMIT {})
             ORDER BY started_at DESC, id",
            recent.max(0)
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent_run).collect()
    }
}

impl Store {
    /// Change requests created in `[since, until)`, newest first.
    pub async fn changes_created_between(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<ChangeRequest>> {
        let rows = sqlx::query(&format!(
            "{CHANGE_REQUESTS} WHERE c.created_at >= $1 AND c.created_at < $2
             ORDER BY c.updated_at DESC, c.id"
        ))
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(change_request_of).collect()
    }

    /// Reviews given in `[since, until)`, oldest first.
    pub async fn reviews_between(&self, since: i64, until: i64) -> Result<Vec<Review>> {
        sqlx::query(
            "SELECT action_key, change_request, head_sha, reviewer, state, body, at FROM reviews
             WHERE at >= $1 AND at < $2 ORDER BY at, action_key",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(super::outbox::review_of)
        .collect()
    }

    /// The change requests created in `[since, until)` that a reviewer ever sent back.
    pub async fn reworked_between(
        &self,
        since: i64,
        until: i64,
    ) -> Result<std::collections::HashSet<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT r.change_request FROM reviews r
             JOIN change_requests c ON c.id = r.change_request
             WHERE r.state = 'changes_requested' AND c.created_at >= $1 AND c.created_at < $2",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

impl Store {
    /// Change requests merged (last updated) at or after `since`, newest first.
    pub async fn merged_changes_since(&self, since: i64) -> Result<Vec<ChangeRequest>> {
        let rows = sqlx::query(&format!(
            "{CHANGE_REQUESTS} WHERE c.state = 'merged' AND c.updated_at >= $1
             ORDER BY c.updated_at DESC, c.id"
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(change_request_of).collect()
    }

    /// The reviews of the change requests `ids`, oldest first.
    pub async fn reviews_of_changes(&self, ids: &[String]) -> Result<Vec<Review>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(PER_STATEMENT) {
            let sql = format!(
                "SELECT action_key, change_request, head_sha, reviewer, state, body, at
                 FROM reviews WHERE change_request IN ({})",
                marks(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(super::outbox::review_of(&r)?);
            }
        }
        out.sort_by(|a, b| {
            a.at.cmp(&b.at)
                .then_with(|| a.action_key.cmp(&b.action_key))
        });
        Ok(out)
    }

    /// Which of `branches` (repo, branch) a merged change request came from.
    pub async fn merged_branches_among(
        &self,
        branches: &[(&str, &str)],
    ) -> Result<std::collections::HashSet<(String, String)>> {
        // The state is checked here: in the WHERE clause SQLite picks the state index and reads
        // every merged change once per statement.
        let rows = self
            .rows_on_pairs(
                "SELECT repo, head, state FROM change_requests WHERE",
                ("repo", "head"),
                branches,
            )
            .await?;
        let mut out = std::collections::HashSet::new();
        for r in rows {
            if r.try_get::<String, _>("state")? == ChangeState::Merged.as_str() {
                out.insert((r.try_get("repo")?, r.try_get("head")?));
            }
        }
        Ok(out)
    }
}

impl Store {
    /// The `n` newest deployments, newest first, and how many there are in all.
    pub async fn recent_deployments(&self, n: i64) -> Result<(Vec<Deployment>, i64)> {
        let rows = sqlx::query(
            "SELECT id, repo, environment, sha, status, created_at, source, contents
             FROM deployments ORDER BY created_at DESC, id LIMIT $1",
        )
        .bind(n.max(0))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM deployments")
            .fetch_one(&self.pool)
            .await?;
        Ok((
            rows.iter().map(deployment_of).collect::<Result<_>>()?,
            total,
        ))
    }

    /// Per repo and environment: how many deployments, and those from its newest successful
    /// one on (all of them, up to `cap` newest, where none succeeded), newest first.
    pub async fn environment_heads(
        &self,
        cap: i64,
    ) -> Result<Vec<(String, String, i64, Vec<Deployment>)>> {
        let envs: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT repo, environment, CAST(COUNT(*) AS BIGINT) FROM deployments
             GROUP BY repo, environment ORDER BY repo, environment",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(envs.len());
        for (repo, env, count) in envs {
            let rows = sqlx::query(
                "SELECT id, repo, environment, sha, status, created_at, source, contents
                 FROM deployments WHERE repo = $1 AND environment = $2
                   AND created_at >= COALESCE((SELECT MAX(created_at) FROM deployments
                       WHERE repo = $1 AND environment = $2 AND status = 'success'), 0)
                 ORDER BY created_at DESC, id LIMIT $3",
            )
            .bind(&repo)
            .bind(&env)
            .bind(cap.max(1))
            .fetch_all(&self.pool)
            .await?;
            let rows = rows.iter().map(deployment_of).collect::<Result<_>>()?;
            out.push((repo, env, count, rows));
        }
        Ok(out)
    }
}

impl Store {
    /// The runs on any of `branches` (repo, branch), by the (repo, branch) index, newest first.
    pub async fn runs_on_branches(&self, branches: &[(&str, &str)]) -> Result<Vec<AgentRun>> {
        let rows = self
            .rows_on_pairs(
                "SELECT * FROM agent_runs WHERE",
                ("repo", "branch"),
                branches,
            )
            .await?;
        let mut out = rows.iter().map(agent_run).collect::<Result<Vec<_>>>()?;
        newest_first(&mut out);
        Ok(out)
    }

    /// The runs `ids` that exist, newest first.
    pub async fn runs_with_ids(&self, ids: &[&str]) -> Result<Vec<AgentRun>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(PER_STATEMENT) {
            let sql = format!(
                "SELECT * FROM agent_runs WHERE id IN ({})",
                marks(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(agent_run(&r)?);
            }
        }
        newest_first(&mut out);
        Ok(out)
    }

    /// Working directories of runs in no known repo (candidates to watch), each once.
    pub async fn unmatched_run_cwds(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT cwd FROM agent_runs WHERE repo IS NULL AND cwd <> '' ORDER BY cwd",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A value bound to a statement built at run time.
enum Arg<'a> {
    Int(i64),
    Text(&'a str),
}

impl Arg<'_> {
    fn bind_all<'q>(
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        args: &'q [Arg<'_>],
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for a in args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Text(t) => q.bind(*t),
            };
        }
        q
    }
}

impl Store {
    /// Change requests by id (those that exist), newest first.
    pub async fn change_requests_with_ids(&self, ids: &[String]) -> Result<Vec<ChangeRequest>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(PER_STATEMENT) {
            let sql = format!(
                "{CHANGE_REQUESTS} WHERE c.id IN ({})",
                marks(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(change_request_of(&r)?);
            }
        }
        out.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Local change requests (agent branches) on any of `branches` (repo, branch).
    pub async fn local_changes_on(&self, branches: &[(&str, &str)]) -> Result<Vec<ChangeRequest>> {
        let rows = self
            .rows_on_pairs(
                &format!("{CHANGE_REQUESTS} WHERE c.kind = 'local' AND"),
                ("c.repo", "c.head"),
                branches,
            )
            .await?;
        rows.iter().map(change_request_of).collect()
    }

    /// Runs on a branch (not HEAD, not their repo's default) that no work item links yet.
    pub async fn unadopted_runs(&self) -> Result<Vec<AgentRun>> {
        let rows = sqlx::query(
            "SELECT * FROM agent_runs r
             WHERE r.repo IS NOT NULL AND r.branch IS NOT NULL AND r.branch <> 'HEAD'
               AND NOT EXISTS (SELECT 1 FROM work_links l WHERE l.kind = 'run' AND l.target = r.id)
               AND NOT EXISTS (SELECT 1 FROM repos p
                               WHERE p.id = r.repo AND p.default_branch = r.branch)
             ORDER BY r.started_at, r.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent_run).collect()
    }

    /// (item's repo, branch) of the work items that link one of the branches `names`.
    pub async fn branch_claims(&self, names: &[&str]) -> Result<Vec<(Option<String>, String)>> {
        let mut names = names.to_vec();
        names.sort_unstable();
        names.dedup();
        let mut out = Vec::new();
        for chunk in names.chunks(PER_STATEMENT) {
            let sql = format!(
                "SELECT w.repo, l.target FROM work_links l JOIN work_items w ON w.id = l.work_item
                 WHERE l.kind = 'branch' AND l.target IN ({})",
                marks(1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (Option<String>, String)>(&sql);
            for n in chunk {
                q = q.bind(*n);
            }
            out.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }
}

impl Store {
    /// Change requests not searched for experiment keys at their head with `keys` (the keys'
    /// fingerprint), newest first.
    pub async fn changes_to_search(&self, keys: &str) -> Result<Vec<ChangeRequest>> {
        let rows = sqlx::query(&format!(
            "{CHANGE_REQUESTS} WHERE NOT EXISTS (SELECT 1 FROM link_scans s
               WHERE s.change_request = c.id AND s.head_sha = c.head_sha AND s.keys = $1)
             ORDER BY c.updated_at DESC, c.id"
        ))
        .bind(keys)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(change_request_of).collect()
    }
}

/// Runs newest first, as every list of them is shown.
pub fn newest_first(runs: &mut [AgentRun]) {
    runs.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| a.id.cmp(&b.id))
    });
}
