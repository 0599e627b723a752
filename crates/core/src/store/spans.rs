//! Durations kept for exact percentiles at scale: DORA lead time (one span per commit shipped
//! to an environment) and the cycle-time phases (one span per merged change and phase).
//!
//! A million spans cannot be read row by row in 200 ms (sqlx reads about 300k rows a second
//! here), so a percentile over a range is found in two steps, both exact: counts by bucket
//! per 16-day block and per day (`span_blocks`, `span_days`: a few rows per day whatever the
//! volume) give the bucket that holds the wanted rank and the rank inside it; then one query
//! walks only that bucket, in order, to the value. Buckets are a log scale with 16 steps per doubling, so no bucket holds much.
//!
//! Spans are written by whoever knows the measured ends (`deploys::measure`,
//! `store::cycle::measure`) through [`replace`], which diffs against what is stored and keeps the
//! day counts in step. This is the store's part (the tables and how to read them fast); what a
//! span means belongs to `dora` and `cycle`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sqlx::Row;
use ts_rs::TS;

use super::Store;

const DAY: i64 = 86_400;

/// One measured duration.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub metric: String,
    /// The environment for lead and deploy time; empty otherwise.
    pub scope: String,
    pub repo: String,
    /// What was measured: a commit sha or a change request id.
    pub item: String,
    /// When it counts in a range (deployed, merged).
    pub at: i64,
    pub agent: bool,
    pub secs: i64,
}

/// A duration's spread over a set of cases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Spread {
    #[ts(type = "number")]
    pub count: i64,
    /// Seconds; none without cases.
    #[ts(type = "number | null")]
    pub median_secs: Option<i64>,
    #[ts(type = "number | null")]
    pub p90_secs: Option<i64>,
}

impl Spread {
    /// From all the values at hand (small sets).
    pub fn of(mut v: Vec<i64>) -> Self {
        v.sort_unstable();
        Spread {
            count: v.len() as i64,
            median_secs: percentile(&v, 50),
            p90_secs: percentile(&v, 90),
        }
    }
}

/// The 1-based nearest rank of percentile `p` among `n` cases (the smallest value with at least
/// `p` % of cases at or below it).
fn rank(p: i64, n: i64) -> i64 {
    (p * n + 99).div_euclid(100).max(1)
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let r = rank(p as i64, sorted.len() as i64) as usize;
    sorted.get(r - 1).copied()
}

/// The bucket of a duration: the value itself below 16 s, then 16 steps per doubling (the top
/// four bits after the leading one). Integer-only, so strictly monotonic.
pub fn bucket(secs: i64) -> i64 {
    if secs < 16 {
        return secs.max(0);
    }
    let e = 63 - i64::from(secs.leading_zeros());
    16 * (e - 3) + ((secs >> (e - 4)) & 15)
}

type Key = (String, String, String); // metric, scope, item
type DayKey = (String, String, i64, bool, i64); // metric, scope, day, agent, bucket

/// Makes the stored spans of `repo` for `metrics` (and `scope`, when given) exactly `new`:
/// only what changed is written, and the day counts follow.
pub async fn replace(
    store: &Store,
    repo: &str,
    metrics: &[&str],
    scope: Option<&str>,
    new: Vec<Span>,
) -> Result<(), crate::Error> {
    let mut old: HashMap<Key, (i64, bool, i64)> = HashMap::new();
    for m in metrics {
        let rows = sqlx::query(
            "SELECT scope, item, at, agent, secs FROM spans
             WHERE repo = $1 AND metric = $2 AND ($3 = '' OR scope = $4)",
        )
        .bind(repo)
        .bind(*m)
        .bind(scope.unwrap_or(""))
        .bind(scope.unwrap_or(""))
        .fetch_all(store.pool())
        .await?;
        for r in rows {
            let key = (m.to_string(), r.try_get("scope")?, r.try_get("item")?);
            let agent: i64 = r.try_get("agent")?;
            old.insert(key, (r.try_get("at")?, agent != 0, r.try_get("secs")?));
        }
    }
    let mut delta: BTreeMap<DayKey, i64> = BTreeMap::new();
    let mut count = |m: &str, s: &str, at: i64, agent: bool, secs: i64, d: i64| {
        *delta
            .entry((
                m.to_string(),
                s.to_string(),
                at.div_euclid(DAY),
                agent,
                bucket(secs),
            ))
            .or_default() += d;
    };
    let mut tx = store.begin().await?;
    let mut inserts = Vec::new();
    // One span per key: a repeated item keeps its last measure.
    let new: HashMap<Key, Span> = new
        .into_iter()
        .map(|s| ((s.metric.clone(), s.scope.clone(), s.item.clone()), s))
        .collect();
    for (key, s) in new {
        match old.remove(&key) {
            Some(was) if was == (s.at, s.agent, s.secs) => continue,
            Some((at, agent, secs)) => {
                count(&s.metric, &s.scope, at, agent, secs, -1);
                delete(&mut tx, repo, &key).await?;
            }
            None => {}
        }
        count(&s.metric, &s.scope, s.at, s.agent, s.secs, 1);
        inserts.push(s);
    }
    for (key, (at, agent, secs)) in old {
        count(&key.0, &key.1, at, agent, secs, -1);
        delete(&mut tx, repo, &key).await?;
    }
    // Many rows per statement: a first measure of a long history writes a lot at once.
    for chunk in inserts.chunks(100) {
        let mut q = String::from(
            "INSERT INTO spans (metric, scope, repo, item, at, day, agent, secs, bucket) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 9;
            if i > 0 {
                q.push(',');
            }
            q.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        let mut query = sqlx::query(&q);
        for s in chunk {
            query = query
                .bind(&s.metric)
                .bind(&s.scope)
                .bind(repo)
                .bind(&s.item)
                .bind(s.at)
                .bind(s.at.div_euclid(DAY))
                .bind(i64::from(s.agent))
                .bind(s.secs)
                .bind(bucket(s.secs));
        }
        query.execute(&mut *tx).await?;
    }
    let mut blocks: BTreeMap<DayKey, i64> = BTreeMap::new();
    for ((m, s, day, agent, b), n) in &delta {
        let key = (m.clone(), s.clone(), day.div_euclid(BLOCK_DAYS), *agent, *b);
        *blocks.entry(key).or_default() += n;
    }
    for (level, counts) in [(DAYS, delta), (BLOCKS, blocks)] {
        for ((m, s, unit, agent, b), n) in counts.into_iter().filter(|(_, n)| *n != 0) {
            sqlx::query(&format!(
                "INSERT INTO {t} (metric, scope, {c}, agent, bucket, n)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (metric, scope, {c}, agent, bucket) DO UPDATE SET n = {t}.n + excluded.n",
                t = level.table,
                c = level.column
            ))
            .bind(m)
            .bind(s)
            .bind(unit)
            .bind(i64::from(agent))
            .bind(b)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Removes every span of `repo`, keeping the day counts in step (before its spans are
/// measured again under another key).
pub async fn clear(store: &Store, repo: &str) -> Result<(), crate::Error> {
    let metrics: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT metric FROM spans WHERE repo = $1")
            .bind(repo)
            .fetch_all(store.pool())
            .await?;
    let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
    if metrics.is_empty() {
        return Ok(());
    }
    replace(store, repo, &metrics, None, Vec::new()).await
}

/// Days per block of `span_blocks`.
const BLOCK_DAYS: i64 = 16;

/// A table of span counts per time unit.
#[derive(Clone, Copy)]
struct Level {
    table: &'static str,
    column: &'static str,
}
const DAYS: Level = Level {
    table: "span_days",
    column: "day",
};
const BLOCKS: Level = Level {
    table: "span_blocks",
    column: "block",
};

/// The whole units of size `unit` wholly inside `[lo, hi)`, as unit numbers `[first, last)`.
fn whole(lo: i64, hi: i64, unit: i64) -> (i64, i64) {
    (
        lo.div_euclid(unit) + i64::from(lo.rem_euclid(unit) != 0),
        hi.div_euclid(unit),
    )
}

async fn delete(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    repo: &str,
    (metric, scope, item): &Key,
) -> Result<(), crate::Error> {
    sqlx::query("DELETE FROM spans WHERE metric = $1 AND scope = $2 AND repo = $3 AND item = $4")
        .bind(metric)
        .bind(scope)
        .bind(repo)
        .bind(item)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Which spans a question is about.
#[derive(Debug, Clone, Copy)]
pub struct Range<'a> {
    pub metric: &'a str,
    pub scope: &'a str,
    /// One repo, or all.
    pub repo: Option<&'a str>,
    pub since: i64,
    pub until: i64,
}

/// Span counts of a range by (agent, bucket).
pub type Counts = BTreeMap<(bool, i64), i64>;

/// How many spans of the range fall in each bucket. Whole 16-day blocks come from the block
/// counts, whole days at either end from the day counts, the ragged seconds (and one repo's
/// spans) from the spans themselves: a few thousand rows read for any range.
pub async fn counts(store: &Store, r: Range<'_>) -> Result<Counts, crate::Error> {
    let mut out = Counts::new();
    let mut add = |rows: Vec<sqlx::any::AnyRow>| -> Result<(), crate::Error> {
        for row in rows {
            let agent: i64 = row.try_get(0)?;
            let b: i64 = row.try_get(1)?;
            let n: i64 = row.try_get(2)?;
            *out.entry((agent != 0, b)).or_default() += n;
        }
        Ok(())
    };
    let raw = |from: i64, to: i64| {
        let repo_clause = if r.repo.is_some() {
            " AND repo = $5"
        } else {
            ""
        };
        let q = format!(
            "SELECT agent, bucket, count(*) FROM spans
             WHERE metric = $1 AND scope = $2 AND at >= $3 AND at < $4{repo_clause}
             GROUP BY agent, bucket"
        );
        async move {
            let mut query = sqlx::query(&q)
                .bind(r.metric)
                .bind(r.scope)
                .bind(from)
                .bind(to);
            if let Some(repo) = r.repo {
                query = query.bind(repo);
            }
            query.fetch_all(store.pool()).await
        }
    };
    let counted = |level: Level, from: i64, to: i64| {
        let q = format!(
            "SELECT agent, bucket, CAST(sum(n) AS BIGINT) FROM {t}
             WHERE metric = $1 AND scope = $2 AND {c} >= $3 AND {c} < $4
             GROUP BY agent, bucket",
            t = level.table,
            c = level.column
        );
        async move {
            sqlx::query(&q)
                .bind(r.metric)
                .bind(r.scope)
                .bind(from)
                .bind(to)
                .fetch_all(store.pool())
                .await
        }
    };
    if r.since >= r.until {
        return Ok(out);
    }
    let (first, last) = whole(r.since, r.until, DAY);
    if r.repo.is_some() || first >= last {
        add(raw(r.since, r.until).await?)?;
        return Ok(out);
    }
    let (b0, b1) = whole(first, last, BLOCK_DAYS);
    if b0 < b1 {
        add(counted(BLOCKS, b0, b1).await?)?;
        for (from, to) in [(first, b0 * BLOCK_DAYS), (b1 * BLOCK_DAYS, last)] {
            if from < to {
                add(counted(DAYS, from, to).await?)?;
            }
        }
    } else {
        add(counted(DAYS, first, last).await?)?;
    }
    let (head_end, tail_start) = (first.saturating_mul(DAY), last.saturating_mul(DAY));
    if r.since < head_end {
        add(raw(r.since, head_end).await?)?;
    }
    if tail_start < r.until {
        add(raw(tail_start, r.until).await?)?;
    }
    Ok(out)
}

/// The median and 90th percentile of the range's spans by agents (`Some(true)`), by people
/// (`Some(false)`) or by both, from `counts` of the same range.
pub async fn spread(
    store: &Store,
    r: Range<'_>,
    counts: &Counts,
    agent: Option<bool>,
) -> Result<Spread, crate::Error> {
    let mut by_bucket: BTreeMap<i64, i64> = BTreeMap::new();
    for ((a, b), n) in counts {
        if agent.is_none_or(|want| want == *a) {
            *by_bucket.entry(*b).or_default() += n;
        }
    }
    let total: i64 = by_bucket.values().sum();
    if total == 0 {
        return Ok(Spread::default());
    }
    let at_rank = |p: i64| {
        let want = rank(p, total);
        let mut before = 0;
        for (b, n) in &by_bucket {
            if before + n >= want {
                return (*b, want - before - 1);
            }
            before += n;
        }
        (0, 0)
    };
    let (b50, o50) = at_rank(50);
    let (b90, o90) = at_rank(90);
    Ok(Spread {
        count: total,
        median_secs: Some(nth(store, r, agent, b50, o50).await?),
        p90_secs: Some(nth(store, r, agent, b90, o90).await?),
    })
}

/// The value at `offset` (0-based) in bucket `b` of the range, in order.
async fn nth(
    store: &Store,
    r: Range<'_>,
    agent: Option<bool>,
    b: i64,
    offset: i64,
) -> Result<i64, crate::Error> {
    let mut q = String::from(
        "SELECT secs FROM spans
         WHERE metric = $1 AND scope = $2 AND bucket = $3 AND at >= $4 AND at < $5",
    );
    let mut n = 6;
    if agent.is_some() {
        q.push_str(&format!(" AND agent = ${n}"));
        n += 1;
    }
    if r.repo.is_some() {
        q.push_str(&format!(" AND repo = ${n}"));
        n += 1;
    }
    q.push_str(&format!(" ORDER BY secs LIMIT 1 OFFSET ${n}"));
    let mut query = sqlx::query_scalar::<_, i64>(&q)
        .bind(r.metric)
        .bind(r.scope)
        .bind(b)
        .bind(r.since)
        .bind(r.until);
    if let Some(a) = agent {
        query = query.bind(i64::from(a));
    }
    if let Some(repo) = r.repo {
        query = query.bind(repo);
    }
    Ok(query.bind(offset).fetch_one(store.pool()).await?)
}

/// (by an agent, bin, spans) of the range, where bin `i` holds durations below `ends[i]` and
/// at or above `ends[i - 1]`; the last end is open (durations at or above the one before it
/// fall in it).
pub async fn bins(
    store: &Store,
    r: &Range<'_>,
    ends: &[i64],
) -> Result<Vec<(bool, usize, i64)>, crate::Error> {
    // The ends are numbers of ours written into the statement, never input.
    let mut case = String::from("CASE");
    for (i, end) in ends.iter().enumerate().take(ends.len().saturating_sub(1)) {
        case.push_str(&format!(" WHEN secs < {end} THEN {i}"));
    }
    case.push_str(&format!(" ELSE {} END", ends.len().saturating_sub(1)));
    let q = format!(
        "SELECT agent, {case} AS bin, count(*) FROM spans
         WHERE metric = $1 AND scope = $2 AND at >= $3 AND at < $4{}
         GROUP BY agent, bin",
        if r.repo.is_some() {
            " AND repo = $5"
        } else {
            ""
        }
    );
    let mut query = sqlx::query(&q)
        .bind(r.metric)
        .bind(r.scope)
        .bind(r.since)
        .bind(r.until);
    if let Some(repo) = r.repo {
        query = query.bind(repo);
    }
    let mut out = Vec::new();
    for row in query.fetch_all(store.pool()).await? {
        let agent: i64 = row.try_get(0)?;
        let bin: i64 = row.try_get(1)?;
        if let Ok(bin) = usize::try_from(bin) {
            out.push((agent != 0, bin, row.try_get(2)?));
        }
    }
    Ok(out)
}

/// The spread for all, agents and people at once.
pub async fn split(store: &Store, r: Range<'_>) -> Result<(Spread, Spread, Spread), crate::Error> {
    let c = counts(store, r).await?;
    Ok((
        spread(store, r, &c, None).await?,
        spread(store, r, &c, Some(true)).await?,
        spread(store, r, &c, Some(false)).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(Spread::of(vec![30, 10, 20]).median_secs, Some(20));
    }

    #[test]
    fn buckets_rise_with_the_duration_and_stay_narrow() {
        let mut last = bucket(-5);
        assert_eq!(last, 0);
        for s in 0..200_000 {
            let b = bucket(s);
            assert!(b >= last, "bucket({s}) = {b} < {last}");
            last = b;
        }
        assert_eq!(bucket(15), 15);
        assert_eq!(bucket(16), 16);
        assert_eq!(bucket(31), 31);
        assert_eq!(bucket(32), 32);
        // A bucket spans at most 1/16 of its values' size.
        assert_eq!(bucket(1 << 20), bucket((1 << 20) + (1 << 16) - 1));
        assert_ne!(bucket(1 << 20), bucket((1 << 20) + (1 << 16)));
        assert!(bucket(i64::MAX) < 1_000);
    }
}
