//! Experiment results from a SQL warehouse on PostgreSQL, the way GrowthBook's warehouse
//! integrations work: a spec file names the experiment and, per metric, a query returning
//! either per-unit rows (`variation`, `value`, and optionally `denominator`, `pre`,
//! `exposed_at`) or per-variation aggregates (`variation`, `n`, `sum`, `sum_squares`, and
//! optionally `denominator_sum`, `denominator_sum_squares`, `sum_products` for a ratio and
//! `pre_sum`, `pre_sum_squares`, `pre_sum_products` for CUPED). Per-unit rows are summed per
//! variation in the warehouse (the query wrapped in a `GROUP BY`, as GrowthBook's are), so
//! only a few numbers per variation come back, whatever the rows. The connection is read-only;
//! its URL comes from `FLIGHTDECK_WAREHOUSE_URL` or the spec (a password only from the
//! environment).
//!
//! ```toml
//! experiment = "checkout-cta"
//! url = "postgres://analyst@warehouse.internal/events"   # password: PGPASSWORD
//! variations = ["control", "treatment"]                 # optional, control first
//! flags = ["checkout_cta_enabled"]                       # optional
//! [[metrics]]
//! name = "bought"
//! query = "SELECT variation, bought AS value, exposed_at FROM exposures"
//! [[metrics]]
//! name = "latency_ms"
//! guardrail = true
//! inverse = true
//! query = "SELECT variation, count(*) AS n, sum(ms) AS sum, sum(ms * ms) AS sum_squares FROM page_loads GROUP BY 1"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::experiment_file::{finish, Acc, Days, FileError, ImportOptions, Imported, Variations};
use crate::model::MetricKind;
use crate::store::warehouse::{Cell, Warehouse, WarehouseError};

/// The environment variable that holds the warehouse's URL (password included, when it has
/// one): the spec file holds none.
pub const URL_VAR: &str = "FLIGHTDECK_WAREHOUSE_URL";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub experiment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    #[serde(default)]
    pub variations: Vec<String>,
    #[serde(default)]
    pub weights: Vec<f64>,
    #[serde(default)]
    pub flags: Vec<String>,
    pub metrics: Vec<MetricSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub name: String,
    pub query: String,
    #[serde(default)]
    pub guardrail: bool,
    #[serde(default)]
    pub inverse: bool,
    /// binomial, mean or ratio; default from the rows.
    pub kind: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Config(#[from] crate::model::toml_file::ConfigError),
    #[error("{}: {message}", .file.display())]
    Spec { file: PathBuf, message: String },
    #[error("{}: {source}", .file.display())]
    Connect {
        file: PathBuf,
        source: WarehouseError,
    },
    #[error("{}: metric `{metric}`: {source}", .file.display())]
    Query {
        file: PathBuf,
        metric: String,
        source: WarehouseError,
    },
    #[error("{}: metric `{metric}`: row {row}: column `{column}`: {message}", .file.display())]
    Row {
        file: PathBuf,
        metric: String,
        row: u64,
        column: String,
        message: String,
    },
    #[error(transparent)]
    File(#[from] FileError),
}

/// Reads and checks a spec file.
pub fn read_spec(path: &Path) -> Result<Spec, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError::Spec {
        file: path.into(),
        message: e.to_string(),
    })?;
    let spec: Spec = crate::model::toml_file::parse_toml(&text, path)?;
    let bad = |message: String| SpecError::Spec {
        file: path.into(),
        message,
    };
    if spec.metrics.is_empty() {
        return Err(bad(
            "no [[metrics]]: each names a metric and its query".into()
        ));
    }
    for (i, m) in spec.metrics.iter().enumerate() {
        if m.name.trim().is_empty() || m.query.trim().is_empty() {
            return Err(bad(format!(
                "metric {}: `name` and `query` are needed",
                i + 1
            )));
        }
        if spec.metrics[..i].iter().any(|x| x.name == m.name) {
            return Err(bad(format!("metric `{}` is given twice", m.name)));
        }
        if let Some(k) = &m.kind {
            if MetricKind::parse(k).is_none() {
                return Err(bad(format!(
                    "metric `{}`: kind `{k}` is not binomial, mean or ratio",
                    m.name
                )));
            }
        }
    }
    if let Some(url) = &spec.url {
        if reqwest::Url::parse(url).is_ok_and(|u| u.password().is_some()) {
            return Err(bad(format!(
                "`url` holds a password: keep it out of files (PGPASSWORD, or the whole URL in {URL_VAR})"
            )));
        }
    }
    Ok(spec)
}

/// The warehouse URL: the environment's, else the spec's.
pub fn url(spec: &Spec, file: &Path) -> Result<String, SpecError> {
    crate::model::toml_file::env_or(URL_VAR, spec.url.clone()).ok_or_else(|| SpecError::Spec {
        file: file.into(),
        message: format!("no warehouse: set {URL_VAR} or `url` in the file"),
    })
}

/// A number column's PostgreSQL types (what may be summed).
const NUMBER_TYPES: &[&str] = &[
    "INT2", "INT4", "INT8", "FLOAT4", "FLOAT8", "NUMERIC", "BOOL", "OID",
];

/// The SQL summing per-unit query `sql` per variation in the warehouse, as GrowthBook's
/// warehouse queries do: the rows never leave it, only n, Σm, Σm² (and a ratio's and a
/// covariate's sums, whether every value was 0 or 1, and the first exposure) per variation.
/// A NULL value counts as 0, as an empty cell of a file.
fn per_unit_sums(
    sql: &str,
    columns: &[(String, String)],
    value: usize,
    variation: usize,
    denominator: Option<usize>,
    pre: Option<usize>,
    exposed: Option<usize>,
) -> String {
    // The column as a number: a boolean through int (PostgreSQL has no boolean to float cast).
    let number = |i: usize| {
        let (name, ty) = &columns[i];
        let q = format!("u.\"{}\"", name.replace('"', "\"\""));
        let cast = if ty == "BOOL" {
            "::int::float8"
        } else {
            "::float8"
        };
        format!("coalesce(({q}){cast}, 0)")
    };
    let quoted = |i: usize| format!("u.\"{}\"", columns[i].0.replace('"', "\"\""));
    let m = number(value);
    let m = m.as_str();
    let mut cols = vec![
        format!("({})::text AS variation", quoted(variation)),
        "count(*) AS n".into(),
        format!("sum({m}) AS sum"),
        format!("sum({m} * {m}) AS sum_squares"),
        format!("bool_and({m} IN (0, 1)) AS binary"),
    ];
    if let Some(d) = denominator {
        let d = number(d);
        cols.push(format!("sum({d}) AS denominator_sum"));
        cols.push(format!("sum({d} * {d}) AS denominator_sum_squares"));
        cols.push(format!("sum({m} * {d}) AS sum_products"));
    }
    if let Some(x) = pre {
        let x = number(x);
        cols.push(format!("sum({x}) AS pre_sum"));
        cols.push(format!("sum({x} * {x}) AS pre_sum_squares"));
        cols.push(format!("sum({m} * {x}) AS pre_sum_products"));
    }
    if let Some(t) = exposed {
        cols.push(format!("min({}) AS first_exposed", quoted(t)));
    }
    // The query on lines of its own: a comment closing its last line ends there.
    format!(
        "SELECT {} FROM (\n{}\n) AS u GROUP BY 1 ORDER BY 1",
        cols.join(", "),
        sql.trim().trim_end_matches(';')
    )
}

/// Runs every metric's query and sums what it returns into an experiment.
pub async fn read(
    warehouse: &Warehouse,
    file: &Path,
    spec: &Spec,
    experiment: &str,
) -> Result<Imported, SpecError> {
    let o = ImportOptions {
        experiment: experiment.to_string(),
        name: spec.name.clone(),
        variations: spec.variations.clone(),
        weights: spec.weights.clone(),
        guardrails: spec
            .metrics
            .iter()
            .filter(|m| m.guardrail)
            .map(|m| m.name.clone())
            .collect(),
        inverse: spec
            .metrics
            .iter()
            .filter(|m| m.inverse)
            .map(|m| m.name.clone())
            .collect(),
        flags: spec.flags.clone(),
    };
    let mut variations = Variations::new(&o);
    let mut cells: BTreeMap<(usize, usize), Acc> = BTreeMap::new();
    let mut kinds = Vec::new();
    let mut first = i64::MAX;
    let mut rows = 0;
    for (m, metric) in spec.metrics.iter().enumerate() {
        let query_error = |source: WarehouseError| SpecError::Query {
            file: file.into(),
            metric: metric.name.clone(),
            source,
        };
        let spec_error = |message: String| SpecError::Spec {
            file: file.into(),
            message: format!("metric `{}`: {message}", metric.name),
        };
        let columns = warehouse
            .columns(&metric.query)
            .await
            .map_err(query_error)?;
        let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        let shape = Shape::of(&names).map_err(spec_error)?;
        // Per-unit rows are summed where they are; a value that is not a number is named
        // before anything runs.
        let (sql, per_unit) = match shape.kind {
            Kind::PerUnit {
                value,
                denominator,
                pre,
                exposed_at,
            } => {
                for (i, role) in [
                    (Some(value), "value"),
                    (denominator, "denominator"),
                    (pre, "pre"),
                ] {
                    let Some(i) = i else { continue };
                    let (name, ty) = &columns[i];
                    if !NUMBER_TYPES.contains(&ty.as_str()) {
                        return Err(spec_error(format!(
                            "column `{name}` ({role}) is {ty}, not a number"
                        )));
                    }
                }
                if let Some(t) = exposed_at {
                    let (name, ty) = &columns[t];
                    if !matches!(ty.as_str(), "TIMESTAMPTZ" | "TIMESTAMP" | "DATE")
                        && !NUMBER_TYPES.contains(&ty.as_str())
                    {
                        return Err(spec_error(format!(
                            "column `{name}` (exposed_at) is {ty}, not a time (a timestamp, or Unix seconds)"
                        )));
                    }
                }
                (
                    per_unit_sums(
                        &metric.query,
                        &columns,
                        value,
                        shape.variation,
                        denominator,
                        pre,
                        exposed_at,
                    ),
                    true,
                )
            }
            Kind::Aggregate { .. } => (metric.query.clone(), false),
        };
        // Per metric: every value 0 or 1; rows with a denominator, with a covariate; units.
        let (mut binary, mut with_d, mut with_pre, mut count) = (true, 0u64, 0u64, 0u64);
        let mut units = 0.0;
        let mut aggregate: Option<Shape> = None;
        warehouse
            .each_row(&sql, |names, row| {
                count += 1;
                let shape = match &aggregate {
                    Some(s) => s,
                    None => {
                        aggregate.insert(Shape::of(names).map_err(|message| SpecError::Row {
                            file: file.into(),
                            metric: metric.name.clone(),
                            row: count,
                            column: "-".into(),
                            message,
                        })?)
                    }
                };
                let Kind::Aggregate {
                    n,
                    sum,
                    sum_squares,
                    denominator,
                    pre,
                } = shape.kind
                else {
                    return Err(SpecError::Row {
                        file: file.into(),
                        metric: metric.name.clone(),
                        row: count,
                        column: "-".into(),
                        message: "not per-variation sums".into(),
                    });
                };
                let at = |column: &str, message: String| SpecError::Row {
                    file: file.into(),
                    metric: metric.name.clone(),
                    row: count,
                    column: column.into(),
                    message,
                };
                let owned;
                let text: &str = match &row[shape.variation] {
                    Cell::Text(t) => t.trim(),
                    Cell::Number(x) => {
                        owned = x.to_string();
                        &owned
                    }
                    Cell::Null => return Err(at("variation", "NULL".into())),
                };
                let v = variations.index(text).map_err(|e| at("variation", e))?;
                let num = |i: usize, name: &str| match &row[i] {
                    Cell::Number(x) if x.is_finite() => Ok(*x),
                    Cell::Null => Err(at(name, "NULL is not a number".into())),
                    other => Err(at(name, format!("{other:?} is not a number"))),
                };
                let a = cells.entry((v, m)).or_default();
                if a.n > 0.0 {
                    return Err(at("variation", format!("`{text}` is given twice")));
                }
                a.n = num(n, "n")?;
                if a.n < 0.0 {
                    return Err(at("n", format!("a negative count ({})", a.n)));
                }
                units += a.n;
                a.sum = num(sum, "sum")?;
                a.sum_squares = num(sum_squares, "sum_squares")?;
                if a.sum_squares < 0.0 {
                    return Err(at("sum_squares", format!("negative ({})", a.sum_squares)));
                }
                binary &= if per_unit {
                    let col = names.iter().position(|c| c == "binary");
                    col.is_some_and(|i| row[i] == Cell::Number(1.0))
                } else {
                    a.sum == a.sum_squares && a.sum <= a.n
                };
                if let Some(i) = names.iter().position(|c| c == "first_exposed") {
                    if let Cell::Number(t) = row[i] {
                        first = first.min(t as i64);
                    }
                }
                if let Some(cs) = denominator {
                    for (slot, (i, name)) in a.d.iter_mut().zip(cs) {
                        *slot = num(i, name)?;
                    }
                    with_d += 1;
                }
                if let Some(cs) = pre {
                    for (slot, (i, name)) in a.pre.iter_mut().zip(cs) {
                        *slot = num(i, name)?;
                    }
                    with_pre += 1;
                }
                Ok::<(), SpecError>(())
            })
            .await
            .map_err(|e| match e {
                SpecError::Connect { source, .. } => query_error(source),
                e => e,
            })?;
        if count == 0 {
            return Err(spec_error("the query returned no rows".into()));
        }
        rows += units as u64;
        let kind = metric
            .kind
            .as_deref()
            .and_then(MetricKind::parse)
            .unwrap_or(if with_d > 0 {
                MetricKind::Ratio
            } else if binary {
                MetricKind::Binomial
            } else {
                MetricKind::Mean
            });
        kinds.push((
            metric.name.clone(),
            kind,
            kind == MetricKind::Ratio && with_d == count,
            with_pre == count,
        ));
    }
    let first = (first != i64::MAX).then_some(first);
    Ok(finish(
        file,
        &o,
        variations,
        &kinds,
        // Totals as read now: the per-unit rows are summed in the warehouse, not by day.
        &Days::first_only(first),
        rows,
        |v, m| cells.get(&(v, m)).copied(),
    )?)
}

impl From<WarehouseError> for SpecError {
    fn from(source: WarehouseError) -> Self {
        // Named by the caller (`read`), which knows the metric.
        SpecError::Connect {
            file: PathBuf::new(),
            source,
        }
    }
}

/// Which columns a query's rows hold.
struct Shape {
    variation: usize,
    kind: Kind,
}

type Triple = Option<[(usize, &'static str); 3]>;

#[derive(Clone, Copy)]
enum Kind {
    PerUnit {
        value: usize,
        denominator: Option<usize>,
        pre: Option<usize>,
        exposed_at: Option<usize>,
    },
    Aggregate {
        n: usize,
        sum: usize,
        sum_squares: usize,
        denominator: Triple,
        pre: Triple,
    },
}

impl Shape {
    fn of(names: &[String]) -> Result<Shape, String> {
        let col = |n: &str| names.iter().position(|x| x.eq_ignore_ascii_case(n));
        let variation = col("variation").ok_or_else(|| {
            format!(
                "no `variation` column (the query returns {})",
                names.join(", ")
            )
        })?;
        let triple = |ns: [&'static str; 3]| match (col(ns[0]), col(ns[1]), col(ns[2])) {
            (Some(a), Some(b), Some(c)) => Some([(a, ns[0]), (b, ns[1]), (c, ns[2])]),
            _ => None,
        };
        let kind = match (col("value"), col("n"), col("sum"), col("sum_squares")) {
            (_, Some(n), Some(sum), Some(sum_squares)) => Kind::Aggregate {
                n,
                sum,
                sum_squares,
                denominator: triple(["denominator_sum", "denominator_sum_squares", "sum_products"]),
                pre: triple(["pre_sum", "pre_sum_squares", "pre_sum_products"]),
            },
            (Some(value), ..) => Kind::PerUnit {
                value,
                denominator: col("denominator"),
                pre: col("pre"),
                exposed_at: col("exposed_at"),
            },
            _ => {
                return Err(format!(
                    "neither per-unit rows (variation, value) nor aggregates (variation, n, sum, sum_squares): the query returns {}",
                    names.join(", ")
                ))
            }
        };
        Ok(Shape { variation, kind })
    }
}
