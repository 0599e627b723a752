//! Experiment results from a CSV file, read streaming in memory bounded by metrics ×
//! variations (never by rows). Two shapes, told apart by the header:
//!
//! - **Per-unit rows**: `variation` and one column per metric, plus optional `unit`
//!   and `exposed_at` (RFC 3339 or Unix seconds). A column `M_denominator` makes `M` a ratio
//!   metric (Σ M / Σ M_denominator); `M_pre` is `M`'s pre-period covariate (CUPED). A metric
//!   whose values are all 0 or 1 is binomial, else a mean. An empty cell counts as 0 (a unit
//!   exposed that did not convert).
//! - **Per-variation aggregates**: `variation`, `metric`, `n`, `sum`, `sum_squares`, with
//!   optional `kind` (binomial, mean, ratio), `denominator_sum`, `denominator_sum_squares`,
//!   `sum_products` (a ratio's), and `pre_sum`, `pre_sum_squares`, `pre_sum_products`
//!   (CUPED's), as a warehouse query or GrowthBook's export gives them.
//!
//! A bad value is an error naming the file, line and column; nothing is half-imported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::{
    Experiment, ExperimentMetric, ExperimentState, History, HistoryPoint, MetricKind, MetricSums,
    Variant,
};

/// What the importer is told besides the file.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub experiment: String,
    /// A display name (default: the id).
    pub name: Option<String>,
    /// The variations the experiment has, control first; rows naming another are an error.
    /// Empty: taken from the file in order of appearance (`control` first when there is one).
    pub variations: Vec<String>,
    /// Their configured shares of traffic, in the same order (empty: an equal split).
    pub weights: Vec<f64>,
    /// Metrics that must not get worse.
    pub guardrails: Vec<String>,
    /// Metrics where lower is better.
    pub inverse: Vec<String>,
    /// Feature flags the experiment's code goes by (its id is its tracking key): changes whose
    /// diffs add one are linked to it. Empty: the keys stored before are kept.
    pub flags: Vec<String>,
}

/// An experiment as read, ready for `Store::replace_experiment`.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub experiment: Experiment,
    pub metrics: Vec<ExperimentMetric>,
    pub sums: Vec<MetricSums>,
    /// Day by day over the units' exposure times when the rows have them, else the totals as
    /// read today.
    pub history: History,
    /// Data rows read.
    pub rows: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {message}", .file.display())]
    Read { file: PathBuf, message: String },
    #[error("{}:{line}: column `{column}`: {message}", .file.display())]
    At {
        file: PathBuf,
        line: u64,
        column: String,
        message: String,
    },
    #[error("{}: {message}", .file.display())]
    Shape { file: PathBuf, message: String },
    /// A Parquet file's row (1-based; it has no header line).
    #[error("{}: row {row}: column `{column}`: {message}", .file.display())]
    Row {
        file: PathBuf,
        row: u64,
        column: String,
        message: String,
    },
}

/// One unit's value `x` (with its denominator `d` and covariate `p`) added to a variation's
/// sums; false when a sum stopped being finite (a value near f64's limit, whose square or
/// total overflows), which the caller refuses by line: a scorecard on infinite sums is NaN.
#[must_use]
pub(super) fn add_unit(a: &mut Acc, x: f64, d: Option<f64>, p: Option<f64>) -> bool {
    a.n += 1.0;
    a.sum += x;
    a.sum_squares += x * x;
    if let Some(d) = d {
        a.d[0] += d;
        a.d[1] += d * d;
        a.d[2] += x * d;
    }
    if let Some(p) = p {
        a.pre[0] += p;
        a.pre[1] += p * p;
        a.pre[2] += x * p;
    }
    [a.sum, a.sum_squares]
        .iter()
        .chain(&a.d)
        .chain(&a.pre)
        .all(|v| v.is_finite())
}

/// The message for a row whose values overflow a metric's sums.
pub(super) const OVERFLOW: &str =
    "a value this large overflows the metric's sums (squares must stay finite)";

/// Sums of a metric over one variation's units: n, Σm, Σm², and with a denominator or a
/// covariate x, Σd, Σd², Σmd, Σx, Σx², Σmx.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Acc {
    pub(super) n: f64,
    pub(super) sum: f64,
    pub(super) sum_squares: f64,
    pub(super) d: [f64; 3],
    pub(super) pre: [f64; 3],
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum_squares += o.sum_squares;
        for k in 0..3 {
            self.d[k] += o.d[k];
            self.pre[k] += o.pre[k];
        }
    }
}

/// The end of year 9999 in Unix seconds: a later exposure time is in milliseconds (or worse),
/// and read as seconds would make a day of history for every few seconds.
const LAST_TIME: i64 = 253_402_300_799;

/// An exposure time: RFC 3339 or Unix seconds.
pub(super) fn exposure_time(text: &str) -> Result<i64, String> {
    let at = text
        .parse::<i64>()
        .ok()
        .or_else(|| super::parse_ts(text))
        .ok_or_else(|| format!("`{text}` is not a time (RFC 3339 or Unix seconds)"))?;
    if !time_in_range(at) {
        return Err(format!(
            "`{text}` is past the year 9999 as Unix seconds (milliseconds? give seconds)"
        ));
    }
    Ok(at)
}

/// Whether `at` (Unix seconds) falls within the years 1 BCE to 9999.
pub(super) fn time_in_range(at: i64) -> bool {
    at.abs() <= LAST_TIME
}

/// Sums of units by the UTC day they were first exposed (days since the epoch), then by
/// variation and metric: what cumulative lift over time is made of; and the first exposure.
#[derive(Debug, Default)]
pub(super) struct Days {
    days: BTreeMap<i64, Vec<Vec<Acc>>>,
    first: Option<i64>,
}

impl Days {
    /// No days, only when the first unit was exposed (if known).
    pub(super) fn first_only(first: Option<i64>) -> Self {
        Days {
            days: BTreeMap::new(),
            first,
        }
    }

    /// The sums of variation `v` for units exposed at `at` (Unix seconds), one per metric.
    pub(super) fn cell(&mut self, at: i64, v: usize, metrics: usize) -> &mut [Acc] {
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        let row = self.days.entry(at.div_euclid(86_400)).or_default();
        while row.len() <= v {
            row.push(vec![Acc::default(); metrics]);
        }
        &mut row[v]
    }
}

/// One metric column of a per-unit file, with its denominator and covariate columns.
pub(super) struct MetricColumns {
    pub(super) name: String,
    pub(super) value: usize,
    pub(super) denominator: Option<usize>,
    pub(super) pre: Option<usize>,
    pub(super) binary: bool,
}

impl MetricColumns {
    /// The metrics of a per-unit header (CSV's or Parquet's): every column but `variation`,
    /// `unit`, `unit_id`, `exposed_at`, each metric's `_denominator` and `_pre`, and pandas'
    /// index (`__index_level_0__`). A `_denominator` or `_pre` column without its metric is an
    /// error at `line` (the header's: 1 in CSV, 0 in Parquet, which has none), and so is a
    /// header without a metric.
    pub(super) fn discover(
        path: &Path,
        header: &[String],
        line: u64,
    ) -> Result<Vec<Self>, FileError> {
        let col = |name: &str| header.iter().position(|h| h == name);
        for h in header {
            for suffix in ["_denominator", "_pre"] {
                if let Some(base) = h.strip_suffix(suffix) {
                    if col(base).is_none() {
                        return Err(FileError::At {
                            file: path.into(),
                            line,
                            column: h.clone(),
                            message: format!("names metric `{base}`, which has no column"),
                        });
                    }
                }
            }
        }
        let taken = |h: &str| {
            ["variation", "unit", "unit_id", "exposed_at"].contains(&h)
                || h.ends_with("_denominator")
                || h.ends_with("_pre")
                || h.starts_with("__index_level_")
        };
        let metrics: Vec<MetricColumns> = header
            .iter()
            .enumerate()
            .filter(|(_, h)| !taken(h))
            .map(|(i, h)| MetricColumns {
                name: h.clone(),
                value: i,
                denominator: col(&format!("{h}_denominator")),
                pre: col(&format!("{h}_pre")),
                binary: true,
            })
            .collect();
        if metrics.is_empty() {
            return Err(FileError::Shape {
                file: path.into(),
                message:
                    "no metric columns: a per-unit file has `variation` and one column per metric"
                        .into(),
            });
        }
        Ok(metrics)
    }

    /// Each metric's name, kind and whether it has a denominator and a covariate, once every
    /// row was read: a ratio with a denominator, binomial when every value was 0 or 1, else a
    /// mean.
    pub(super) fn kinds(metrics: &[MetricColumns]) -> Vec<(String, MetricKind, bool, bool)> {
        metrics
            .iter()
            .map(|m| {
                let kind = if m.denominator.is_some() {
                    MetricKind::Ratio
                } else if m.binary {
                    MetricKind::Binomial
                } else {
                    MetricKind::Mean
                };
                (
                    m.name.clone(),
                    kind,
                    m.denominator.is_some(),
                    m.pre.is_some(),
                )
            })
            .collect()
    }
}

/// Reads an experiment's results from `path`: Parquet (told by its first bytes) or CSV.
pub fn read(path: &Path, o: &ImportOptions) -> Result<Imported, FileError> {
    if super::experiment_parquet::is_parquet(path) {
        return super::experiment_parquet::read(path, o);
    }
    let file = std::fs::File::open(path).map_err(|e| FileError::Read {
        file: path.into(),
        message: e.to_string(),
    })?;
    // Fields are trimmed where they are read: the reader's own trimming copies every record
    // and halves its speed.
    let mut rdr = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 20)
        .from_reader(file);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| FileError::Read {
            file: path.into(),
            message: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    if col("variation").is_none() {
        return Err(FileError::At {
            file: path.into(),
            line: 1,
            column: "variation".into(),
            message: format!("missing; the header has {}", header.join(", ")),
        });
    }
    if col("metric").is_some() && col("n").is_some() {
        aggregates_from(path, rdr, &header, o)
    } else {
        per_unit(path, rdr, &header, o)
    }
}

/// The most variations an experiment may have.
const MAX_VARIATIONS: usize = 100;

/// Where the row's variation goes: its index among the known ones, learning new ones when none
/// were given.
pub(super) struct Variations {
    pub(super) names: Vec<String>,
    fixed: bool,
}

impl Variations {
    pub(super) fn new(o: &ImportOptions) -> Self {
        Self {
            names: o.variations.clone(),
            fixed: !o.variations.is_empty(),
        }
    }

    pub(super) fn index(&mut self, name: &str) -> Result<usize, String> {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Ok(i);
        }
        if name.is_empty() {
            return Err("empty".into());
        }
        if self.fixed {
            return Err(format!(
                "`{name}` is not a variation of this experiment ({})",
                self.names.join(", ")
            ));
        }
        // Sums are kept per variation: a column of unit ids taken for variations would grow
        // without bound.
        if self.names.len() >= MAX_VARIATIONS {
            return Err(format!(
                "more than {MAX_VARIATIONS} different variations: is this the variation column?"
            ));
        }
        self.names.push(name.to_string());
        Ok(self.names.len() - 1)
    }

    /// The names, control first: `control` when nothing fixed the order and there is one.
    fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        if !self.fixed {
            if let Some(c) = self.names.iter().position(|n| n == "control") {
                order.retain(|&i| i != c);
                order.insert(0, c);
            }
        }
        order
    }
}

fn number(path: &Path, line: u64, column: &str, text: &str) -> Result<f64, FileError> {
    if text.is_empty() {
        return Ok(0.0);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(FileError::At {
            file: path.into(),
            line,
            column: column.into(),
            message: format!("`{text}` is not a number"),
        }),
    }
}

fn per_unit(
    path: &Path,
    mut rdr: csv::Reader<std::fs::File>,
    header: &[String],
    o: &ImportOptions,
) -> Result<Imported, FileError> {
    let col = |name: &str| header.iter().position(|h| h == name);
    let variation = col("variation").unwrap_or_default();
    let exposed = col("exposed_at");
    let mut metrics = MetricColumns::discover(path, header, 1)?;
    let mut variations = Variations::new(o);
    // acc[variation][metric]
    let mut acc: Vec<Vec<Acc>> = Vec::new();
    let mut days = Days::default();
    // Two threads, as the machine has two cores and the work splits in two: this one turns
    // fields into numbers and sums them, in file order; a reader thread splits the file into
    // records (bytes, not strings: only the fields used are checked as UTF-8) and hands them
    // over in batches that come back to be reused.
    const BATCH: usize = 4_096;
    type Batch = (Vec<csv::ByteRecord>, usize);
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(4);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<csv::ByteRecord>>();
    let mut rows = 0_u64;
    let (summed, read) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<(), FileError> {
            loop {
                let mut batch = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| vec![csv::ByteRecord::new(); BATCH]);
                let mut n = 0;
                while n < BATCH {
                    match rdr.read_byte_record(&mut batch[n]) {
                        Ok(true) => n += 1,
                        Ok(false) => break,
                        Err(e) => {
                            // What was read before the bad record is summed first.
                            let _ = full_tx.send((batch, n));
                            return Err(FileError::At {
                                file: path.into(),
                                line: e.position().map_or(0, |p| p.line()),
                                column: "-".into(),
                                message: e.to_string(),
                            });
                        }
                    }
                }
                // A send fails only when the summing side stopped at an error of its own.
                if n == 0 || full_tx.send((batch, n)).is_err() || n < BATCH {
                    return Ok(());
                }
            }
        });
        let mut sum = || -> Result<(), FileError> {
            for (batch, n) in full_rx.iter() {
                for record in &batch[..n] {
                    rows += 1;
                    let line = record.position().map_or(rows + 1, |p| p.line());
                    let text = |i: usize| {
                        std::str::from_utf8(record.get(i).unwrap_or_default())
                            .map(str::trim)
                            .map_err(|_| FileError::At {
                                file: path.into(),
                                line,
                                column: header[i].clone(),
                                message: "not UTF-8 text".into(),
                            })
                    };
                    let v =
                        variations
                            .index(text(variation)?)
                            .map_err(|message| FileError::At {
                                file: path.into(),
                                line,
                                column: "variation".into(),
                                message,
                            })?;
                    // Variations named up front may first appear in any order.
                    while acc.len() <= v {
                        acc.push(vec![Acc::default(); metrics.len()]);
                    }
                    // An empty time is not known for this unit: it does not move the start,
                    // and the unit counts in the totals but on no day.
                    let mut day = None;
                    if let Some(text) = exposed.map(text).transpose()?.filter(|t| !t.is_empty()) {
                        let at = exposure_time(text).map_err(|message| FileError::At {
                            file: path.into(),
                            line,
                            column: "exposed_at".into(),
                            message,
                        })?;
                        day = Some(days.cell(at, v, metrics.len()));
                    }
                    for (k, (m, a)) in metrics.iter_mut().zip(acc[v].iter_mut()).enumerate() {
                        let get = |i: usize| number(path, line, &header[i], text(i)?);
                        let x = get(m.value)?;
                        m.binary &= x == 0.0 || x == 1.0;
                        let d = m.denominator.map(get).transpose()?;
                        let p = m.pre.map(get).transpose()?;
                        let mut fine = add_unit(a, x, d, p);
                        if let Some(day) = day.as_deref_mut() {
                            fine &= add_unit(&mut day[k], x, d, p);
                        }
                        if !fine {
                            return Err(FileError::At {
                                file: path.into(),
                                line,
                                column: header[m.value].clone(),
                                message: OVERFLOW.into(),
                            });
                        }
                    }
                }
                let _ = empty_tx.send(batch);
            }
            Ok(())
        };
        let summed = sum();
        // Stop the reader if summing failed (its next send fails), then hear how it ended.
        drop(full_rx);
        let read = reader.join().unwrap_or_else(|_| {
            Err(FileError::Read {
                file: path.into(),
                message: "the reading thread panicked".into(),
            })
        });
        (summed, read)
    });
    // The first problem in file order: summing stops at its row, which the reader passed.
    summed?;
    read?;
    if rows == 0 {
        return Err(FileError::Shape {
            file: path.into(),
            message: "no rows after the header".into(),
        });
    }
    let kinds = MetricColumns::kinds(&metrics);
    finish(path, o, variations, &kinds, &days, rows, |v, m| {
        acc.get(v).map(|row| row[m])
    })
}

pub(super) fn aggregates_from<R: std::io::Read>(
    path: &Path,
    mut rdr: csv::Reader<R>,
    header: &[String],
    o: &ImportOptions,
) -> Result<Imported, FileError> {
    let col = |name: &str| header.iter().position(|h| h == name);
    for need in ["sum", "sum_squares"] {
        if col(need).is_none() {
            return Err(FileError::At {
                file: path.into(),
                line: 1,
                column: need.into(),
                message: format!(
                    "missing; an aggregate file has variation, metric, n, sum, sum_squares (the header has {})",
                    header.join(", ")
                ),
            });
        }
    }
    // Three optional columns that come together, with their names for errors.
    let triple = |names: [&'static str; 3]| match (col(names[0]), col(names[1]), col(names[2])) {
        (Some(a), Some(b), Some(c)) => Some([(a, names[0]), (b, names[1]), (c, names[2])]),
        _ => None,
    };
    let denominator = triple(["denominator_sum", "denominator_sum_squares", "sum_products"]);
    let pre = triple(["pre_sum", "pre_sum_squares", "pre_sum_products"]);
    let kind_col = col("kind");
    let mut variations = Variations::new(o);
    let mut names: Vec<String> = Vec::new();
    let mut kinds: BTreeMap<usize, MetricKind> = BTreeMap::new();
    let mut cells: BTreeMap<(usize, usize), Acc> = BTreeMap::new();
    // Per metric: rows with a denominator, rows with a covariate, rows in all.
    let mut has: BTreeMap<usize, (u64, u64, u64)> = BTreeMap::new();
    let (mut rows, mut record) = (0_u64, csv::StringRecord::new());
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(FileError::At {
                    file: path.into(),
                    line: e.position().map_or(0, |p| p.line()),
                    column: "-".into(),
                    message: e.to_string(),
                })
            }
        }
        rows += 1;
        record.trim();
        let line = record.position().map_or(rows + 1, |p| p.line());
        let at = |column: &str, message: String| FileError::At {
            file: path.into(),
            line,
            column: column.into(),
            message,
        };
        let v = variations
            .index(
                record
                    .get(col("variation").unwrap_or_default())
                    .unwrap_or(""),
            )
            .map_err(|m| at("variation", m))?;
        let metric = record.get(col("metric").unwrap_or_default()).unwrap_or("");
        if metric.is_empty() {
            return Err(at("metric", "empty".into()));
        }
        let m = match names.iter().position(|n| n == metric) {
            Some(i) => i,
            None => {
                names.push(metric.to_string());
                names.len() - 1
            }
        };
        let get = |name: &str, i: usize| number(path, line, name, record.get(i).unwrap_or(""));
        let n = get("n", col("n").unwrap_or_default())?;
        if n < 0.0 {
            return Err(at("n", format!("a negative count ({n})")));
        }
        let mut a = Acc {
            n,
            sum: get("sum", col("sum").unwrap_or_default())?,
            sum_squares: get("sum_squares", col("sum_squares").unwrap_or_default())?,
            ..Default::default()
        };
        if a.sum_squares < 0.0 {
            return Err(at("sum_squares", format!("negative ({})", a.sum_squares)));
        }
        let seen = has.entry(m).or_default();
        seen.2 += 1;
        for (cols, slots, count) in [
            (denominator, &mut a.d, &mut seen.0),
            (pre, &mut a.pre, &mut seen.1),
        ] {
            // Columns a file has for every metric are empty where a metric has no such part.
            if let Some(cs) = cols.filter(|cs| record.get(cs[0].0).is_some_and(|t| !t.is_empty())) {
                for (slot, (c, name)) in slots.iter_mut().zip(cs) {
                    *slot = get(name, c)?;
                }
                *count += 1;
            }
        }
        if let Some(k) = kind_col {
            let text = record.get(k).unwrap_or("");
            let kind = MetricKind::parse(text).ok_or_else(|| {
                at(
                    "kind",
                    format!("`{text}` is not a metric kind (binomial, mean, ratio)"),
                )
            })?;
            kinds.insert(m, kind);
        }
        if cells.insert((v, m), a).is_some() {
            return Err(at(
                "metric",
                format!("`{metric}` for this variation is given twice"),
            ));
        }
    }
    if rows == 0 {
        return Err(FileError::Shape {
            file: path.into(),
            message: "no rows after the header".into(),
        });
    }
    let kinds: Vec<(String, MetricKind, bool, bool)> = names
        .iter()
        .enumerate()
        .map(|(m, name)| {
            // Without a kind column: a ratio when it has a denominator, binomial when every
            // unit's value was 0 or 1 (then Σm² = Σm), else a mean.
            let (with_d, with_pre, all) = has.get(&m).copied().unwrap_or_default();
            let kind = kinds.get(&m).copied().unwrap_or_else(|| {
                if with_d > 0 {
                    MetricKind::Ratio
                } else if cells
                    .iter()
                    .filter(|((_, mm), _)| *mm == m)
                    .all(|(_, a)| a.sum == a.sum_squares && a.sum <= a.n)
                {
                    MetricKind::Binomial
                } else {
                    MetricKind::Mean
                }
            });
            // Adjusted only when every variation has the covariate: one side alone would bias
            // the lift.
            (
                name.clone(),
                kind,
                kind == MetricKind::Ratio,
                with_pre == all,
            )
        })
        .collect();
    finish(
        path,
        o,
        variations,
        &kinds,
        &Days::default(),
        rows,
        |v, m| cells.get(&(v, m)).copied(),
    )
}

/// Variation `variation`'s sums of each metric in `kinds` that `cell` has.
fn sums_of(
    kinds: &[(String, MetricKind, bool, bool)],
    variation: &str,
    cell: impl Fn(usize) -> Option<Acc>,
) -> Vec<MetricSums> {
    kinds
        .iter()
        .enumerate()
        .filter_map(|(m, (metric, _, ratio, pre))| {
            let a = cell(m)?;
            Some(MetricSums {
                metric: metric.clone(),
                variation: variation.to_string(),
                n: a.n,
                sum: a.sum,
                sum_squares: a.sum_squares,
                denominator: ratio.then_some((a.d[0], a.d[1], a.d[2])),
                pre: pre.then_some((a.pre[0], a.pre[1], a.pre[2])),
            })
        })
        .collect()
}

/// The experiment, its metrics and sums from what was read.
pub(super) fn finish(
    path: &Path,
    o: &ImportOptions,
    variations: Variations,
    kinds: &[(String, MetricKind, bool, bool)],
    days: &Days,
    rows: u64,
    cell: impl Fn(usize, usize) -> Option<Acc>,
) -> Result<Imported, FileError> {
    if variations.names.len() < 2 {
        return Err(FileError::Shape {
            file: path.into(),
            message: format!(
                "only one variation ({}): an experiment compares two or more",
                variations.names.join(", ")
            ),
        });
    }
    if !o.weights.is_empty() && o.weights.len() != variations.names.len() {
        return Err(FileError::Shape {
            file: path.into(),
            message: format!(
                "{} weights for {} variations ({})",
                o.weights.len(),
                variations.names.len(),
                variations.names.join(", ")
            ),
        });
    }
    for g in o.guardrails.iter().chain(&o.inverse) {
        if !kinds.iter().any(|(n, ..)| n == g) {
            return Err(FileError::Shape {
                file: path.into(),
                message: format!(
                    "no metric `{g}` in the file (it has {})",
                    kinds
                        .iter()
                        .map(|k| k.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let order = variations.order();
    let metrics: Vec<ExperimentMetric> = kinds
        .iter()
        .map(|(name, kind, ..)| ExperimentMetric {
            name: name.clone(),
            kind: *kind,
            guardrail: o.guardrails.contains(name),
            inverse: o.inverse.contains(name),
        })
        .collect();
    let primary = metrics
        .iter()
        .position(|m| !m.guardrail)
        .unwrap_or_default();
    let mut sums = Vec::new();
    let mut variants = Vec::new();
    for (position, &v) in order.iter().enumerate() {
        let name = &variations.names[v];
        let units = (0..kinds.len())
            .filter_map(|m| cell(v, m))
            .map(|a| a.n)
            .fold(0.0, f64::max);
        let conversions = match (metrics[primary].kind, cell(v, primary)) {
            (MetricKind::Binomial, Some(a)) => a.sum,
            _ => 0.0,
        };
        variants.push(Variant {
            name: name.clone(),
            units: units.round() as i64,
            conversions: conversions.round() as i64,
            // Weights are given control first, as the variations are shown.
            weight: o.weights.get(position).copied(),
        });
        sums.extend(sums_of(kinds, name, |m| cell(v, m)));
    }
    let now = chrono::Utc::now().timestamp();
    let history = if days.days.is_empty() {
        History::read_at(now, &sums)
    } else {
        // Running totals over the days, in each day's order of variations.
        let mut running: Vec<Vec<Acc>> = Vec::new();
        let mut points = Vec::new();
        for (&day, row) in &days.days {
            for (v, cells) in row.iter().enumerate() {
                if running.len() <= v {
                    running.push(vec![Acc::default(); kinds.len()]);
                }
                for (total, a) in running[v].iter_mut().zip(cells) {
                    total.add(a);
                }
            }
            let mut day_sums = Vec::new();
            for &v in &order {
                let Some(totals) = running.get(v) else {
                    continue;
                };
                day_sums.extend(sums_of(kinds, &variations.names[v], |m| {
                    totals.get(m).copied().filter(|a| a.n > 0.0)
                }));
            }
            points.push(HistoryPoint {
                day: crate::model::days::of(day * 86_400),
                sums: day_sums,
            });
        }
        History {
            points,
            whole: true,
        }
    };
    Ok(Imported {
        experiment: Experiment {
            id: o.experiment.clone(),
            name: o.name.clone().unwrap_or_else(|| o.experiment.clone()),
            metric: metrics[primary].name.clone(),
            state: ExperimentState::Running,
            started_at: days.first.unwrap_or(now),
            variants,
        },
        metrics,
        sums,
        history,
        rows,
    })
}
