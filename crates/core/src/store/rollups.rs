//! Rollups the slow views read instead of the raw rows: commits per week (Velocity and its
//! charts) and each person's sessions per day (the Team view). Both are rebuilt for what a
//! write touched, in the write's own transaction, so a reader never sees them disagree with
//! the rows they sum. A window's whole weeks or days come from the rollup and its partial
//! edges from the raw rows, so answers are the same as summing the rows.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Any, Row, Transaction};

use super::Store;
use crate::model::error::Result;

/// Commits and changed lines of one week (Monday 00:00 UTC on), by agents or by people.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekCommits {
    /// The week's Monday, 00:00 UTC.
    pub monday: i64,
    pub agent: bool,
    pub commits: i64,
    /// Insertions plus deletions (a commit whose diffstat is unknown adds none).
    pub lines: i64,
}

/// 1970-01-05, the first Monday after the epoch: week 0. Earlier commits are in no week.
const FIRST_MONDAY: i64 = 4 * 86_400;
const WEEK: i64 = 7 * 86_400;

/// The week holding `t`, if it is on or after week 0.
pub(super) fn week_of(t: i64) -> Option<i64> {
    (t >= FIRST_MONDAY).then(|| (t - FIRST_MONDAY) / WEEK)
}

/// The per-week sums of the commits in `[from, to)`, both at or after `FIRST_MONDAY`.
fn week_sums_sql() -> String {
    format!(
        "SELECT CAST((committed_at - {FIRST_MONDAY}) / {WEEK} AS BIGINT) AS week,
           CAST(CASE WHEN agent IS NULL THEN 0 ELSE 1 END AS BIGINT) AS by_agent,
           CAST(COUNT(*) AS BIGINT) AS commits,
           CAST(SUM(insertions + deletions) AS BIGINT) AS lines
         FROM commits WHERE committed_at >= $1 AND committed_at < $2
         GROUP BY 1, 2"
    )
}

/// Serialises the writers of `name` on PostgreSQL until the transaction ends: rebuilds of one
/// rollup (two transactions deleting and re-inserting the same week would otherwise each miss
/// the other's rows, and one fail on the key), appends to the audit chain (each reads the tail
/// it extends). SQLite's writers are serialised already (`BEGIN IMMEDIATE`). Taken after the
/// writer's own rows and before anything else (or first of all), so no two writers can each
/// hold what the other waits for. Taking it twice in one transaction is harmless.
pub(super) async fn lock_named(tx: &mut Transaction<'static, Any>, name: &str) -> Result<()> {
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("flightdeck rollup {name}"))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Rebuilds `commit_weeks` for `weeks` (`None`: every week) from the commits in the same
/// transaction. Runs of consecutive weeks go as one range: a first ingest of a long history
/// touches hundreds.
pub(super) async fn rebuild_commit_weeks_in(
    tx: &mut Transaction<'static, Any>,
    weeks: Option<&BTreeSet<i64>>,
) -> Result<()> {
    if weeks.is_some_and(|w| w.is_empty()) {
        return Ok(());
    }
    lock_named(tx, "commit_weeks").await?;
    let ranges: Vec<(i64, i64)> = match weeks {
        None => vec![(0, i64::MAX / WEEK - 1)],
        Some(weeks) => {
            let mut ranges: Vec<(i64, i64)> = Vec::new();
            for &w in weeks.iter().filter(|w| **w >= 0) {
                match ranges.last_mut() {
                    Some((_, end)) if *end == w => *end = w + 1,
                    _ => ranges.push((w, w + 1)),
                }
            }
            ranges
        }
    };
    let insert = format!(
        "INSERT INTO commit_weeks (week, by_agent, commits, lines) {}",
        week_sums_sql()
    );
    for (first, end) in ranges {
        sqlx::query("DELETE FROM commit_weeks WHERE week >= $1 AND week < $2")
            .bind(first)
            .bind(end)
            .execute(&mut **tx)
            .await?;
        sqlx::query(&insert)
            .bind(FIRST_MONDAY + first * WEEK)
            .bind(FIRST_MONDAY.saturating_add(end.saturating_mul(WEEK)))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Rebuilds `session_days` for the days `filter` selects (an `AND u.day IN (...)` with its
/// values bound by the caller's `binds`, or empty for every day).
pub(super) async fn rebuild_session_days_in(
    tx: &mut Transaction<'static, Any>,
    filter: &str,
    binds: &[String],
) -> Result<()> {
    lock_named(tx, "session_days").await?;
    let delete = format!(
        "DELETE FROM session_days WHERE 1 = 1 {}",
        filter.replace("u.day", "day")
    );
    let insert = format!(
        "INSERT INTO session_days (day, person, agent, session_id)
         SELECT DISTINCT u.day, u.person, u.agent, u.session_id FROM usage_entries u
         WHERE u.canonical = 1 {filter}"
    );
    for sql in [delete, insert] {
        let mut q = sqlx::query(&sql);
        for d in binds {
            q = q.bind(d);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Rebuilds the weekly sums from every commit: for rows written around
    /// [`Store::upsert_commits`], as the benchmarks' bulk fill writes them.
    pub async fn rebuild_commit_weeks(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        rebuild_commit_weeks_in(&mut tx, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Commits committed in `[from, to)` per week, agents and people apart, oldest week first.
    /// Whole weeks come from `commit_weeks`; the partial weeks at either end (the current
    /// week, always) are summed from the commits.
    pub async fn commit_weeks(&self, from: i64, to: i64) -> Result<Vec<WeekCommits>> {
        let from = from.max(FIRST_MONDAY);
        let mut sums: BTreeMap<(i64, bool), (i64, i64)> = BTreeMap::new();
        if from >= to {
            return Ok(Vec::new());
        }
        // Whole weeks: the first starting at or after `from`, up to the last ending by `to`.
        let into = from - FIRST_MONDAY;
        let first = into / WEEK + i64::from(into % WEEK != 0);
        let end = (to - FIRST_MONDAY) / WEEK;
        let mut raw = vec![(from, to)];
        if first < end {
            let (start, stop) = (FIRST_MONDAY + first * WEEK, FIRST_MONDAY + end * WEEK);
            raw = vec![(from, start), (stop, to)];
            let rows = sqlx::query(
                "SELECT week, by_agent, commits, lines FROM commit_weeks
                 WHERE week >= $1 AND week < $2",
            )
            .bind(first)
            .bind(end)
            .fetch_all(&self.pool)
            .await?;
            add_weeks(&mut sums, &rows)?;
        }
        let sql = week_sums_sql();
        for (a, b) in raw.into_iter().filter(|(a, b)| a < b) {
            let rows = sqlx::query(&sql)
                .bind(a)
                .bind(b)
                .fetch_all(&self.pool)
                .await?;
            add_weeks(&mut sums, &rows)?;
        }
        Ok(sums
            .into_iter()
            .map(|((week, agent), (commits, lines))| WeekCommits {
                monday: FIRST_MONDAY + week * WEEK,
                agent,
                commits,
                lines,
            })
            .collect())
    }

    /// Per person who launched agent work (the usage's `person`; '' when unknown): the sessions
    /// with counted usage in `[since, until)`. Whole days come from `session_days`, the two
    /// edge days from the usage records.
    pub async fn runs_by_person(&self, since: i64, until: i64) -> Result<Vec<(String, i64)>> {
        if since >= until {
            return Ok(Vec::new());
        }
        // Day names sort as text only for years 0000 to 9999; past those, the rows decide.
        const YEARS: std::ops::RangeInclusive<i64> = -62_167_219_200..=253_402_300_799;
        if !YEARS.contains(&since) || !YEARS.contains(&(until - 1)) {
            return Ok(sqlx::query_as(
                "SELECT person, CAST(COUNT(*) AS BIGINT) FROM (
                   SELECT DISTINCT u.person, u.agent, u.session_id FROM usage_entries u
                   WHERE u.canonical = 1 AND u.at >= $1 AND u.at < $2) s
                 GROUP BY person ORDER BY person",
            )
            .bind(since)
            .bind(until)
            .fetch_all(&self.pool)
            .await?);
        }
        let day = crate::model::days::of;
        Ok(sqlx::query_as(
            "SELECT person, CAST(COUNT(*) AS BIGINT) FROM (
               SELECT person, agent, session_id FROM session_days WHERE day > $1 AND day < $2
               UNION
               SELECT u.person, u.agent, u.session_id FROM usage_entries u
               WHERE u.day IN ($3, $4) AND u.canonical = 1 AND u.at >= $5 AND u.at < $6) s
             GROUP BY person ORDER BY person",
        )
        .bind(day(since))
        .bind(day(until - 1))
        .bind(day(since))
        .bind(day(until - 1))
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?)
    }
}

fn add_weeks(
    sums: &mut BTreeMap<(i64, bool), (i64, i64)>,
    rows: &[sqlx::any::AnyRow],
) -> Result<()> {
    for r in rows {
        let key = (r.try_get("week")?, r.try_get::<i64, _>("by_agent")? == 1);
        let e = sums.entry(key).or_default();
        e.0 += r.try_get::<i64, _>("commits")?;
        e.1 += r.try_get::<i64, _>("lines")?;
    }
    Ok(())
}
