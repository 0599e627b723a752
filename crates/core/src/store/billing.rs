//! The vendors' billed costs, as fetched (`crate::sources::billing` fetches and reconciles), and the
//! per-day, per-vendor sums that reconciliation and the spend charts read.

use sqlx::Row;

use super::Store;
use crate::model::error::Result;

/// One billed line of a day: the vendor's line item (and model, when it names one) and amount.
#[derive(Debug, Clone, Copy)]
pub struct BilledLine<'a> {
    pub day: &'a str,
    pub item: &'a str,
    pub model: &'a str,
    pub usd: f64,
}

impl Store {
    /// Replaces what `vendor` billed on the days `[from, to)` (`YYYY-MM-DD`) with `lines`, in one
    /// transaction: a sync that fails halfway leaves the previous figures.
    pub async fn replace_billed_costs(
        &self,
        vendor: &str,
        from: &str,
        to: &str,
        lines: &[BilledLine<'_>],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM billed_costs WHERE vendor = $1 AND day >= $2 AND day < $3")
            .bind(vendor)
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        for l in lines {
            sqlx::query(
                "INSERT INTO billed_costs (vendor, day, line_item, model, amount_usd, fetched_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(vendor)
            .bind(l.day)
            .bind(l.item)
            .bind(l.model)
            .bind(l.usd)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// (day, vendor, billed USD) over the inclusive days given.
    pub async fn billed_by_day(
        &self,
        since: &str,
        until: &str,
    ) -> Result<Vec<(String, String, f64)>> {
        self.day_vendor_sums(
            "SELECT day, vendor, CAST(SUM(amount_usd) AS DOUBLE PRECISION) AS usd FROM billed_costs
             WHERE day >= $1 AND day <= $2 GROUP BY day, vendor",
            since,
            until,
        )
        .await
    }

    /// (day, vendor, USD) of the spend derived from agent logs over the inclusive days given.
    pub async fn log_spend_by_day(
        &self,
        since: &str,
        until: &str,
    ) -> Result<Vec<(String, String, f64)>> {
        self.day_vendor_sums(
            "SELECT day, vendor, CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS usd FROM spend_records
             WHERE source = 'logs' AND day >= $1 AND day <= $2 GROUP BY day, vendor",
            since,
            until,
        )
        .await
    }

    /// (day, vendor, USD) of the spend from every source over the inclusive days given.
    pub async fn spend_by_day_and_vendor(
        &self,
        since: &str,
        until: &str,
    ) -> Result<Vec<(String, String, f64)>> {
        self.day_vendor_sums(
            "SELECT day, vendor, CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS usd FROM spend_records
             WHERE day >= $1 AND day <= $2 GROUP BY day, vendor",
            since,
            until,
        )
        .await
    }

    async fn day_vendor_sums(
        &self,
        sql: &str,
        since: &str,
        until: &str,
    ) -> Result<Vec<(String, String, f64)>> {
        let rows = sqlx::query(sql)
            .bind(since)
            .bind(until)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("day")?, r.try_get("vendor")?, r.try_get("usd")?)))
            .collect()
    }
}
