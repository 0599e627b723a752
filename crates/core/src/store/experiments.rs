//! Experiment metrics and their per-variation sufficient statistics (migration 31).

use sqlx::Row;

use super::Store;
use crate::model::{
    Experiment, ExperimentDecided, ExperimentKey, ExperimentMetric, ExperimentOrigin, History,
    HistoryPoint, MetricSums,
};
use crate::Result;

impl Store {
    /// Replaces everything known of experiment `e`: the experiment and its variations, its
    /// metrics, and every metric's sums per variation, in one transaction (an import or a sync
    /// reads a whole result set, so nothing is merged with what was there), and adds what
    /// the read gives of its history (see [`History`]).
    pub async fn replace_experiment(
        &self,
        e: &Experiment,
        metrics: &[ExperimentMetric],
        sums: &[MetricSums],
        history: &History,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        replace_experiment_in(&mut tx, e, metrics, sums, history).await?;
        tx.commit().await?;
        Ok(())
    }

    /// As [`Store::replace_experiment`], for an experiment read from a service: with where it
    /// came from and the keys it goes by in code, all in one transaction.
    pub async fn replace_synced_experiment(
        &self,
        e: &Experiment,
        metrics: &[ExperimentMetric],
        sums: &[MetricSums],
        history: &History,
        origin: &ExperimentOrigin,
        keys: &[ExperimentKey],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        replace_experiment_in(&mut tx, e, metrics, sums, history).await?;
        // The service's start is the start (a new phase moves it later, too).
        sqlx::query("UPDATE experiments SET started_at = $2 WHERE id = $1")
            .bind(&e.id)
            .bind(e.started_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO experiment_origins (experiment, source, external_id, api_url,
               variation_ids, snapshot, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (experiment) DO UPDATE SET source = excluded.source,
               external_id = excluded.external_id, api_url = excluded.api_url,
               variation_ids = excluded.variation_ids, snapshot = excluded.snapshot,
               updated_at = excluded.updated_at",
        )
        .bind(&e.id)
        .bind(&origin.source)
        .bind(&origin.external_id)
        .bind(&origin.api_url)
        .bind(serde_json::to_string(&origin.variation_ids).unwrap_or_else(|_| "[]".into()))
        .bind(&origin.snapshot)
        .bind(&origin.updated_at)
        .execute(&mut *tx)
        .await?;
        set_keys_in(&mut tx, &e.id, keys).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Where experiment `id` was synced from, when it was.
    pub async fn experiment_origin(&self, id: &str) -> Result<Option<ExperimentOrigin>> {
        let row = sqlx::query(
            "SELECT source, external_id, api_url, variation_ids, snapshot, updated_at
             FROM experiment_origins WHERE experiment = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let ids: String = r.try_get("variation_ids")?;
            Ok(ExperimentOrigin {
                source: r.try_get("source")?,
                external_id: r.try_get("external_id")?,
                api_url: r.try_get("api_url")?,
                variation_ids: serde_json::from_str(&ids).map_err(|e| crate::Error::Invalid {
                    path: format!("experiment {id}").into(),
                    message: format!("its variation ids cannot be read: {e}"),
                })?,
                snapshot: r.try_get("snapshot")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    /// Forgets where experiment `id` was synced from (a file now replaces its data, so its
    /// decisions are not GrowthBook's to hear and a sync reads it anew).
    pub async fn clear_experiment_origin(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM experiment_origins WHERE experiment = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces the keys experiment `id` goes by in code.
    pub async fn set_experiment_keys(&self, id: &str, keys: &[ExperimentKey]) -> Result<()> {
        let mut tx = self.begin().await?;
        set_keys_in(&mut tx, id, keys).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every experiment's keys, by experiment then key.
    pub async fn experiment_keys(&self) -> Result<Vec<(String, ExperimentKey)>> {
        let rows = sqlx::query(
            "SELECT experiment, key, kind FROM experiment_keys ORDER BY experiment, key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("experiment")?,
                    ExperimentKey {
                        key: r.try_get("key")?,
                        kind: r.try_get("kind")?,
                    },
                ))
            })
            .collect()
    }
}

async fn set_keys_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    keys: &[ExperimentKey],
) -> Result<()> {
    sqlx::query("DELETE FROM experiment_keys WHERE experiment = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for k in keys {
        sqlx::query(
            "INSERT INTO experiment_keys (experiment, key, kind) VALUES ($1, $2, $3)
             ON CONFLICT (experiment, key) DO NOTHING",
        )
        .bind(id)
        .bind(&k.key)
        .bind(&k.kind)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The experiment, its variations, metrics and sums replaced inside `tx`.
async fn replace_experiment_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    e: &Experiment,
    metrics: &[ExperimentMetric],
    sums: &[MetricSums],
    history: &History,
) -> Result<()> {
    // The experiment's row first: two replacements of one experiment (two instances syncing
    // at once) then take turns, instead of the second deleting before the first commits and
    // failing on the rows the first inserted.
    sqlx::query(
        "INSERT INTO experiments (id, name, metric, state, started_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    )
    .bind(&e.id)
    .bind(&e.name)
    .bind(&e.metric)
    .bind(e.state.as_str())
    .bind(e.started_at)
    .execute(&mut **tx)
    .await?;
    for table in [
        "experiment_variants",
        "experiment_metrics",
        "experiment_sums",
    ] {
        // Table names from the fixed list above.
        sqlx::query(&format!("DELETE FROM {table} WHERE experiment = $1"))
            .bind(&e.id)
            .execute(&mut **tx)
            .await?;
    }
    super::writes::upsert_experiment_in(tx, e).await?;
    // The start only moves earlier (a file with earlier exposures); a file without
    // exposure times (aggregates, read now) leaves it.
    sqlx::query("UPDATE experiments SET started_at = $2 WHERE id = $1 AND started_at > $2")
        .bind(&e.id)
        .bind(e.started_at)
        .execute(&mut **tx)
        .await?;
    for (position, m) in metrics.iter().enumerate() {
        sqlx::query(
            "INSERT INTO experiment_metrics (experiment, metric, kind, guardrail, inverse,
                   position) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&e.id)
        .bind(&m.name)
        .bind(m.kind.as_str())
        .bind(i64::from(m.guardrail))
        .bind(i64::from(m.inverse))
        .bind(position as i64)
        .execute(&mut **tx)
        .await?;
    }
    for s in sums {
        insert_sums(tx, "experiment_sums", &e.id, None, s).await?;
    }
    if history.whole {
        sqlx::query("DELETE FROM experiment_history WHERE experiment = $1")
            .bind(&e.id)
            .execute(&mut **tx)
            .await?;
    }
    for p in &history.points {
        sqlx::query("DELETE FROM experiment_history WHERE experiment = $1 AND day = $2")
            .bind(&e.id)
            .bind(&p.day)
            .execute(&mut **tx)
            .await?;
        for s in &p.sums {
            insert_sums(tx, "experiment_history", &e.id, Some(&p.day), s).await?;
        }
    }
    Ok(())
}

/// One metric's sums for one variation into `table` (`experiment_sums`, or
/// `experiment_history` with its `day`).
async fn insert_sums(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    id: &str,
    day: Option<&str>,
    s: &MetricSums,
) -> Result<()> {
    // Absent parts are bound as 0 with a flag and stored as NULL: a NULL bound through
    // the Any driver fixes the statement's parameter type for PostgreSQL, and the next
    // row's number then fails to bind.
    let (d, dd, dp) = s.denominator.unwrap_or_default();
    let (p, pp, pq) = s.pre.unwrap_or_default();
    let (day_column, day_value) = match day {
        Some(_) => ("day, ", "$15, "),
        None => ("", ""),
    };
    // `table` is one of the two names above, never input.
    let sql = format!(
        "INSERT INTO {table} ({day_column}experiment, metric, variation, n, sum, sum_squares,
               d_sum, d_sum_squares, d_products, pre_sum, pre_sum_squares, pre_products)
             VALUES ({day_value}$1, $2, $3, $4, $5, $6,
               CASE WHEN $13 = 1 THEN $7 END, CASE WHEN $13 = 1 THEN $8 END,
               CASE WHEN $13 = 1 THEN $9 END, CASE WHEN $14 = 1 THEN $10 END,
               CASE WHEN $14 = 1 THEN $11 END, CASE WHEN $14 = 1 THEN $12 END)"
    );
    let mut q = sqlx::query(&sql)
        .bind(id)
        .bind(&s.metric)
        .bind(&s.variation)
        .bind(s.n)
        .bind(s.sum)
        .bind(s.sum_squares)
        .bind(d)
        .bind(dd)
        .bind(dp)
        .bind(p)
        .bind(pp)
        .bind(pq)
        .bind(i64::from(s.denominator.is_some()))
        .bind(i64::from(s.pre.is_some()));
    if let Some(day) = day {
        q = q.bind(day);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// The SQL condition matching experiment `id` bound as `$1` by its key column `key` (so the
/// index is used), or every row when `id` is empty (`$1` is still bound, and must be).
pub(super) fn one_or_all(id: &str, key: &'static str) -> std::borrow::Cow<'static, str> {
    if id.is_empty() {
        "$1 = ''".into()
    } else {
        format!("{key} = $1").into()
    }
}

/// The sums in row `r` of `experiment_sums` or `experiment_history`.
fn sums_of_row(r: &sqlx::any::AnyRow) -> Result<MetricSums> {
    let triple = |a: &str, b: &str, c: &str| -> Result<_> {
        let (x, y, z): (Option<f64>, Option<f64>, Option<f64>) =
            (r.try_get(a)?, r.try_get(b)?, r.try_get(c)?);
        Ok(match (x, y, z) {
            (Some(x), Some(y), Some(z)) => Some((x, y, z)),
            _ => None,
        })
    };
    Ok(MetricSums {
        metric: r.try_get("metric")?,
        variation: r.try_get("variation")?,
        n: r.try_get("n")?,
        sum: r.try_get("sum")?,
        sum_squares: r.try_get("sum_squares")?,
        denominator: triple("d_sum", "d_sum_squares", "d_products")?,
        pre: triple("pre_sum", "pre_sum_squares", "pre_products")?,
    })
}

impl Store {
    /// Experiment `id`, when stored.
    pub async fn experiment(&self, id: &str) -> Result<Option<Experiment>> {
        // An empty id would match them all.
        if id.is_empty() {
            return Ok(None);
        }
        Ok(self.experiments_matching(id).await?.into_iter().next())
    }

    /// The metrics of experiment `id`, in their order.
    pub async fn experiment_metrics(&self, id: &str) -> Result<Vec<ExperimentMetric>> {
        if id.is_empty() {
            return Ok(vec![]);
        }
        Ok(self
            .metrics_matching(id)
            .await?
            .into_iter()
            .map(|(_, m)| m)
            .collect())
    }

    /// (experiment, metric) of experiment `id`, or of every experiment when `id` is empty.
    async fn metrics_matching(&self, id: &str) -> Result<Vec<(String, ExperimentMetric)>> {
        let filter = one_or_all(id, "experiment");
        let rows = sqlx::query(&format!(
            "SELECT experiment, metric, kind, guardrail, inverse FROM experiment_metrics
             WHERE {filter} ORDER BY experiment, position, metric"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("experiment")?,
                    ExperimentMetric {
                        name: r.try_get("metric")?,
                        kind: super::named(r, "kind", "metric kind")?,
                        guardrail: r.try_get::<i64, _>("guardrail")? != 0,
                        inverse: r.try_get::<i64, _>("inverse")? != 0,
                    },
                ))
            })
            .collect()
    }

    /// Every metric's sums per variation of experiment `id`.
    pub async fn metric_sums(&self, id: &str) -> Result<Vec<MetricSums>> {
        if id.is_empty() {
            return Ok(vec![]);
        }
        Ok(self
            .sums_matching(id)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// (experiment, sums) of experiment `id`, or of every experiment when `id` is empty.
    async fn sums_matching(&self, id: &str) -> Result<Vec<(String, MetricSums)>> {
        let filter = one_or_all(id, "experiment");
        let rows = sqlx::query(&format!(
            "SELECT experiment, metric, variation, n, sum, sum_squares, d_sum, d_sum_squares,
               d_products, pre_sum, pre_sum_squares, pre_products
             FROM experiment_sums WHERE {filter}
             ORDER BY experiment, metric, variation"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("experiment")?, sums_of_row(r)?)))
            .collect()
    }

    /// Experiment `id`'s history, oldest day first.
    pub async fn experiment_history(&self, id: &str) -> Result<Vec<HistoryPoint>> {
        let rows = sqlx::query(
            "SELECT day, metric, variation, n, sum, sum_squares, d_sum, d_sum_squares,
               d_products, pre_sum, pre_sum_squares, pre_products
             FROM experiment_history WHERE experiment = $1
             ORDER BY day, metric, variation",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut points: Vec<HistoryPoint> = Vec::new();
        for r in &rows {
            let day: String = r.try_get("day")?;
            let sums = sums_of_row(r)?;
            match points.last_mut() {
                Some(p) if p.day == day => p.sums.push(sums),
                _ => points.push(HistoryPoint {
                    day,
                    sums: vec![sums],
                }),
            }
        }
        Ok(points)
    }

    /// Every experiment with its metrics, sums and decision, read in four queries whatever
    /// their number: what the Experiments view scores.
    pub async fn experiments_to_score(
        &self,
    ) -> Result<
        Vec<(
            Experiment,
            Vec<ExperimentMetric>,
            Vec<MetricSums>,
            Option<ExperimentDecided>,
        )>,
    > {
        use std::collections::HashMap;
        let mut metrics: HashMap<String, Vec<ExperimentMetric>> = HashMap::new();
        for (e, m) in self.metrics_matching("").await? {
            metrics.entry(e).or_default().push(m);
        }
        let mut sums: HashMap<String, Vec<MetricSums>> = HashMap::new();
        for (e, s) in self.sums_matching("").await? {
            sums.entry(e).or_default().push(s);
        }
        let mut decisions = self.decisions_matching("").await?;
        Ok(self
            .experiments()
            .await?
            .into_iter()
            .map(|e| {
                let id = e.id.clone();
                (
                    e,
                    metrics.remove(&id).unwrap_or_default(),
                    sums.remove(&id).unwrap_or_default(),
                    decisions.remove(&id),
                )
            })
            .collect())
    }

    /// Takes back decision `d` on experiment `id` (its audit entry could not be written), so
    /// no decision stands unsigned.
    pub async fn undo_experiment_decision(&self, id: &str, d: &ExperimentDecided) -> Result<()> {
        sqlx::query(
            "UPDATE experiments SET decision = NULL, decided_variation = NULL, decided_by = NULL,
               decided_at = NULL, decision_reason = NULL, state = 'running'
             WHERE id = $1 AND decision = $2 AND decided_by = $3 AND decided_at = $4",
        )
        .bind(id)
        .bind(d.call.as_str())
        .bind(&d.by)
        .bind(d.at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records decision `d` on experiment `id` and stops it, unless one was recorded already
    /// (by this or any other instance): returns whether this one was.
    pub async fn decide_experiment(&self, id: &str, d: &ExperimentDecided) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE experiments SET decision = $2, decided_variation = $3, decided_by = $4,
               decided_at = $5, decision_reason = $6, state = 'stopped'
             WHERE id = $1 AND decision IS NULL",
        )
        .bind(id)
        .bind(d.call.as_str())
        .bind(d.variation.as_deref())
        .bind(&d.by)
        .bind(d.at)
        .bind(d.reason.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The decision taken on experiment `id`, if any.
    pub async fn experiment_decision(&self, id: &str) -> Result<Option<ExperimentDecided>> {
        if id.is_empty() {
            return Ok(None);
        }
        Ok(self.decisions_matching(id).await?.remove(id))
    }

    /// The decisions taken, by experiment: of `id`, or of every experiment when `id` is empty.
    async fn decisions_matching(
        &self,
        id: &str,
    ) -> Result<std::collections::HashMap<String, ExperimentDecided>> {
        let filter = one_or_all(id, "id");
        let rows = sqlx::query(&format!(
            "SELECT id, decision, decided_variation, decided_by, decided_at, decision_reason
             FROM experiments WHERE {filter} AND decision IS NOT NULL"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    ExperimentDecided {
                        call: super::named(r, "decision", "experiment decision")?,
                        variation: r.try_get("decided_variation")?,
                        by: r
                            .try_get::<Option<String>, _>("decided_by")?
                            .unwrap_or_default(),
                        at: r
                            .try_get::<Option<i64>, _>("decided_at")?
                            .unwrap_or_default(),
                        reason: r.try_get("decision_reason")?,
                    },
                ))
            })
            .collect()
    }
}

/// A change request found to put an experiment's key in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentLink {
    pub experiment: String,
    pub change_request: String,
    pub key: String,
    pub path: String,
}

impl Store {
    /// Records change `change`'s key search at `head` for `keys`: its links replaced by
    /// `links`, in one transaction.
    pub async fn replace_change_links(
        &self,
        change: &str,
        head: &str,
        keys: &str,
        links: &[ExperimentLink],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM experiment_links WHERE change_request = $1")
            .bind(change)
            .execute(&mut *tx)
            .await?;
        for l in links {
            sqlx::query(
                "INSERT INTO experiment_links (experiment, change_request, key, path)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (experiment, change_request) DO NOTHING",
            )
            .bind(&l.experiment)
            .bind(&l.change_request)
            .bind(&l.key)
            .bind(&l.path)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO link_scans (change_request, head_sha, keys) VALUES ($1, $2, $3)
             ON CONFLICT (change_request) DO UPDATE SET head_sha = excluded.head_sha,
               keys = excluded.keys",
        )
        .bind(change)
        .bind(head)
        .bind(keys)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the searches and links of change requests that no longer exist (folded into a
    /// pull request, or a repo's carry-over gave them a new id).
    pub async fn prune_links(&self) -> Result<()> {
        for table in ["experiment_links", "link_scans"] {
            // Table names from the fixed list above.
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE change_request NOT IN (SELECT id FROM change_requests)"
            ))
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Forgets every link (no experiment has a key left to be found by).
    pub async fn clear_links(&self) -> Result<()> {
        sqlx::query("DELETE FROM experiment_links")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The change requests linked to experiment `id`, oldest first.
    pub async fn experiment_links(&self, id: &str) -> Result<Vec<ExperimentLink>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT l.experiment, l.change_request, l.key, l.path FROM experiment_links l
             JOIN change_requests c ON c.id = l.change_request
             WHERE l.experiment = $1 ORDER BY c.created_at, c.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(experiment, change_request, key, path)| ExperimentLink {
                experiment,
                change_request,
                key,
                path,
            })
            .collect())
    }

    /// The agent runs on `repo`'s branch `branch`: how many, and their cost.
    pub async fn runs_on_branch(&self, repo: &str, branch: &str) -> Result<(i64, f64)> {
        let (n, cost): (i64, f64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION)
             FROM agent_runs WHERE repo = $1 AND branch = $2",
        )
        .bind(repo)
        .bind(branch)
        .fetch_one(&self.pool)
        .await?;
        Ok((n, cost))
    }

    /// The successful deploys that shipped change `change` (its head, or the commit its merge
    /// left), oldest first.
    pub async fn deploys_shipping(&self, change: &str) -> Result<Vec<crate::model::Deployment>> {
        let rows = sqlx::query(
            "SELECT DISTINCT d.id, d.repo, d.environment, d.sha, d.status, d.created_at,
               d.source, d.contents
             FROM deployments d JOIN deploy_commits dc ON dc.deployment = d.id
             JOIN change_requests c ON c.repo = dc.repo
               AND (dc.sha = c.head_sha OR dc.sha = c.merge_sha)
             WHERE c.id = $1 AND d.status = 'success'
             ORDER BY d.created_at, d.id",
        )
        .bind(change)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::reads::deployment_of).collect()
    }
}

impl Store {
    /// Running experiments not decided yet that have a guardrail metric: those whose
    /// guardrails are watched (one stopped elsewhere exposes no one any more).
    pub async fn guarded_experiments(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT e.id FROM experiments e WHERE e.decision IS NULL AND e.state = 'running'
               AND EXISTS
               (SELECT 1 FROM experiment_metrics m WHERE m.experiment = e.id AND m.guardrail = 1)
             ORDER BY e.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// (experiment, call) of every ship or stop decided on a GrowthBook experiment whose stop
    /// is not in the outbox.
    pub async fn decided_unsent(&self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT e.id, e.decision FROM experiments e
             JOIN experiment_origins o ON o.experiment = e.id AND o.source = 'growthbook'
             WHERE e.decision IN ('ship', 'stop') AND NOT EXISTS
               (SELECT 1 FROM actions a
                WHERE a.idempotency_key = 'experiment:' || e.id || ':' || e.decision)
             ORDER BY e.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The experiments change `change` was found to put in code.
    pub async fn experiments_of_change(&self, change: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT experiment FROM experiment_links WHERE change_request = $1 ORDER BY experiment",
        )
        .bind(change)
        .fetch_all(&self.pool)
        .await?)
    }
}
