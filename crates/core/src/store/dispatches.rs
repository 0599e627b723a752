//! Dispatch rows: queued, claimed for running under the agent's concurrency limit, given their
//! process group, fed output, finished or cancelled.

use sqlx::Row;

use super::{Backend, Store};
use crate::model::error::Result;
use crate::model::Dispatch;

const COLUMNS: &str = "id, work_item, agent, repo, branch, worktree, kind, prompt, state, host,
    pid, exit_code, error, output_tail, created_at, started_at, ended_at";

fn dispatch(r: &sqlx::any::AnyRow) -> Result<Dispatch> {
    Ok(Dispatch {
        id: r.try_get("id")?,
        work_item: r.try_get("work_item")?,
        agent: r.try_get("agent")?,
        repo: r.try_get("repo")?,
        branch: r.try_get("branch")?,
        worktree: r.try_get("worktree")?,
        kind: super::named(r, "kind", "dispatch kind")?,
        prompt: r.try_get("prompt")?,
        state: super::named(r, "state", "dispatch state")?,
        host: r.try_get("host")?,
        pid: r.try_get("pid")?,
        exit_code: r.try_get("exit_code")?,
        error: r.try_get("error")?,
        output_tail: r.try_get("output_tail")?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
    })
}

impl Store {
    pub async fn insert_dispatch(&self, d: &Dispatch) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO dispatches ({COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(&d.id)
        .bind(&d.work_item)
        .bind(&d.agent)
        .bind(&d.repo)
        .bind(&d.branch)
        .bind(&d.worktree)
        .bind(d.kind.as_str())
        .bind(&d.prompt)
        .bind(d.state.as_str())
        .bind(&d.host)
        .bind(d.pid)
        .bind(d.exit_code)
        .bind(&d.error)
        .bind(&d.output_tail)
        .bind(d.created_at)
        .bind(d.started_at)
        .bind(d.ended_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn dispatch(&self, id: &str) -> Result<Option<Dispatch>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM dispatches WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(dispatch).transpose()
    }

    /// Every dispatch, newest first.
    pub async fn dispatches(&self) -> Result<Vec<Dispatch>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM dispatches ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(dispatch).collect()
    }

    /// Moves a queued dispatch to running when its agent has fewer than `limit` running; false
    /// when the agent is full or the dispatch is no longer queued. On SQLite one statement
    /// decides (a writer holds the whole file). On PostgreSQL two instances' statements could
    /// each count the other's slot as free, so the claim runs under a transaction lock on the
    /// agent's name: instances on other machines wait their turn, and the limit is exact.
    pub async fn claim_dispatch(&self, id: &str, limit: i64, now: i64) -> Result<bool> {
        const CLAIM: &str = "UPDATE dispatches SET state = 'running', started_at = $1
             WHERE id = $2 AND state = 'queued'
               AND (SELECT COUNT(*) FROM dispatches d
                    WHERE d.agent = dispatches.agent AND d.state = 'running') < $3";
        if self.target.backend != Backend::Postgres {
            let done = sqlx::query(CLAIM)
                .bind(now)
                .bind(id)
                .bind(limit)
                .execute(&self.pool)
                .await?;
            return Ok(done.rows_affected() == 1);
        }
        let mut tx = self.begin().await?;
        let agent: Option<String> =
            sqlx::query_scalar("SELECT agent FROM dispatches WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(agent) = agent else {
            return Ok(false);
        };
        // Held until commit; the key is the agent's, so other agents' claims do not wait.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("flightdeck dispatch {agent}"))
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(CLAIM)
            .bind(now)
            .bind(id)
            .bind(limit)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the running process group; false when the dispatch was cancelled meanwhile (the
    /// caller then stops the process itself).
    pub async fn set_dispatch_pid(&self, id: &str, pid: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE dispatches SET pid = $1 WHERE id = $2 AND state = 'running'")
                .bind(pid)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_dispatch_output(&self, id: &str, tail: &str) -> Result<()> {
        sqlx::query("UPDATE dispatches SET output_tail = $1 WHERE id = $2")
            .bind(tail)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a queued or running dispatch as `state` (succeeded, failed or cancelled); false when
    /// it had already ended (a cancel that came first is not overwritten by the exit it caused).
    pub async fn finish_dispatch(
        &self,
        id: &str,
        state: crate::model::DispatchState,
        exit_code: Option<i64>,
        error: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE dispatches SET state = $1, exit_code = $2, error = $3, ended_at = $4
             WHERE id = $5 AND state IN ('queued', 'running')",
        )
        .bind(state.as_str())
        .bind(exit_code)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
