//! Monthly budgets and the alerts that fired against them: the rows behind `crate::domain::budgets`
//! (which owns the rules: scopes, forecasts, thresholds).

use sqlx::Row;

use super::Store;
use crate::model::error::Result;
use crate::model::{Budget, BudgetAlert, Scope};

impl Store {
    /// Inserts a budget or replaces the amount of the one with its id.
    pub async fn upsert_budget(&self, b: &Budget, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO budgets (id, scope, target, monthly_usd, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET monthly_usd = excluded.monthly_usd",
        )
        .bind(&b.id)
        .bind(b.scope.as_str())
        .bind(&b.target)
        .bind(b.monthly_usd)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a budget and its alerts; false when there was none.
    pub async fn remove_budget(&self, id: &str) -> Result<bool> {
        sqlx::query("DELETE FROM budget_alerts WHERE budget_id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        let done = sqlx::query("DELETE FROM budgets WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn budgets(&self) -> Result<Vec<Budget>> {
        let rows = sqlx::query("SELECT id, scope, target, monthly_usd FROM budgets ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Budget {
                    id: r.try_get("id")?,
                    // Strict like every stored state: read as the team's, an unknown scope's
                    // budget (with its target) would match no spend and always show zero.
                    scope: super::named(r, "scope", "budget scope")?,
                    target: r.try_get("target")?,
                    monthly_usd: r.try_get("monthly_usd")?,
                })
            })
            .collect()
    }

    /// Spend per day (`YYYY-MM-DD`, cost) in `month` (`YYYY-MM`) of what `scope` = `target`
    /// covers (all of it for the team); days without spend are absent.
    pub async fn spend_by_day(
        &self,
        scope: Scope,
        target: &str,
        month: &str,
    ) -> Result<Vec<(String, f64)>> {
        // The column comes from the fixed scope enum, never from input.
        let filter = match scope.column() {
            Some(c) => format!("AND {c} = $2"),
            None => "AND $2 = ''".to_string(),
        };
        let rows = sqlx::query(&format!(
            "SELECT day, CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS cost FROM spend_records
             WHERE SUBSTR(day, 1, 7) = $1 {filter} GROUP BY day"
        ))
        .bind(month)
        .bind(target)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("day")?, r.try_get("cost")?)))
            .collect()
    }

    /// The distinct values spend is recorded under for `scope` (vendors, agents, repos).
    pub async fn spend_targets(&self, scope: Scope) -> Result<Vec<String>> {
        let Some(column) = scope.column() else {
            return Ok(Vec::new());
        };
        // The column comes from the fixed scope enum, never from input.
        Ok(sqlx::query_scalar(&format!(
            "SELECT DISTINCT {column} FROM spend_records WHERE {column} <> '' ORDER BY {column}"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// The thresholds (percent) that fired for a budget in `month`, lowest first.
    pub async fn fired_thresholds(&self, budget_id: &str, month: &str) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT threshold FROM budget_alerts WHERE budget_id = $1 AND month = $2
             ORDER BY threshold",
        )
        .bind(budget_id)
        .bind(month)
        .fetch_all(self.pool())
        .await?)
    }

    /// Records an alert unless its budget, month and threshold already fired; true when this
    /// call recorded it (of two machines racing, one gets the row).
    pub async fn record_budget_alert(&self, a: &BudgetAlert) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO budget_alerts (budget_id, month, threshold, spent_usd, at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&a.budget_id)
        .bind(&a.month)
        .bind(a.threshold)
        .bind(a.spent_usd)
        .bind(a.at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The alerts of `month`, newest first.
    pub async fn budget_alerts(&self, month: &str) -> Result<Vec<BudgetAlert>> {
        let rows = sqlx::query(
            "SELECT a.budget_id, a.month, a.threshold, a.spent_usd, a.at, b.monthly_usd
             FROM budget_alerts a JOIN budgets b ON b.id = a.budget_id
             WHERE a.month = $1 ORDER BY a.at DESC, a.threshold DESC",
        )
        .bind(month)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BudgetAlert {
                    budget_id: r.try_get("budget_id")?,
                    month: r.try_get("month")?,
                    threshold: r.try_get("threshold")?,
                    spent_usd: r.try_get("spent_usd")?,
                    monthly_usd: r.try_get("monthly_usd")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}
