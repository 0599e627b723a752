//! Experiment results in Parquet: the same rows as a CSV give the same sums (per-unit over
//! several row groups with nulls, and aggregates), and bad rows are named by file, row and
//! column with nothing stored.

mod support;

use std::path::Path;
use std::sync::Arc;

use flightdeck_core::domain::experiments::import_file;
use flightdeck_core::model::MetricKind;
use flightdeck_core::sources::experiment_file::ImportOptions;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use support::{both, TestDb};

/// A column to write: its values, `None` for a null (`Required`: a REQUIRED text column).
enum Col {
    Required(Vec<String>),
    Text(Vec<Option<String>>),
    Int(Vec<Option<i32>>),
    Long(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
}

impl Col {
    fn len(&self) -> usize {
        match self {
            Col::Required(v) => v.len(),
            Col::Text(v) => v.len(),
            Col::Int(v) => v.len(),
            Col::Long(v) => v.len(),
            Col::Double(v) => v.len(),
        }
    }
}

/// Writes `cols` (in the schema's order) to `path` in row groups of `group` rows, Snappy.
fn write_parquet(path: &Path, message: &str, cols: &[Col], group: usize) {
    write_with(
        path,
        message,
        cols,
        group,
        parquet::basic::Compression::SNAPPY,
    )
}

fn write_with(
    path: &Path,
    message: &str,
    cols: &[Col],
    group: usize,
    codec: parquet::basic::Compression,
) {
    let schema = Arc::new(parse_message_type(message).unwrap());
    let props = Arc::new(WriterProperties::builder().set_compression(codec).build());
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, props).unwrap();
    let rows = cols[0].len();
    let mut start = 0;
    while start < rows {
        let end = (start + group).min(rows);
        let mut rg = w.next_row_group().unwrap();
        let mut i = 0;
        while let Some(mut c) = rg.next_column().unwrap() {
            fn split<T: Clone>(v: &[Option<T>]) -> (Vec<T>, Vec<i16>) {
                let defs = v.iter().map(|x| i16::from(x.is_some())).collect();
                (v.iter().flatten().cloned().collect(), defs)
            }
            match &cols[i] {
                Col::Required(v) => {
                    let vals: Vec<ByteArray> = v[start..end]
                        .iter()
                        .map(|s| ByteArray::from(s.as_str()))
                        .collect();
                    c.typed::<ByteArrayType>()
                        .write_batch(&vals, None, None)
                        .unwrap();
                }
                Col::Text(v) => {
                    let (vals, defs) = split(&v[start..end]);
                    let vals: Vec<ByteArray> = vals
                        .into_iter()
                        .map(|s| ByteArray::from(s.as_str()))
                        .collect();
                    c.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&defs), None)
                        .unwrap();
                }
                Col::Int(v) => {
                    let (vals, defs) = split(&v[start..end]);
                    c.typed::<Int32Type>()
                        .write_batch(&vals, Some(&defs), None)
                        .unwrap();
                }
                Col::Long(v) => {
                    let (vals, defs) = split(&v[start..end]);
                    c.typed::<Int64Type>()
                        .write_batch(&vals, Some(&defs), None)
                        .unwrap();
                }
                Col::Double(v) => {
                    let (vals, defs) = split(&v[start..end]);
                    c.typed::<DoubleType>()
                        .write_batch(&vals, Some(&defs), None)
                        .unwrap();
                }
            }
            c.close().unwrap();
            i += 1;
        }
        rg.close().unwrap();
        start = end;
    }
    w.close().unwrap();
}

// Times in milliseconds and revenue in cents as a DECIMAL(10,2), as pandas and DuckDB write
// them: read as seconds and dollars.
const PER_UNIT: &str = "message rows {
  REQUIRED BYTE_ARRAY variation (UTF8);
  OPTIONAL INT64 exposed_at (TIMESTAMP(MILLIS,true));
  OPTIONAL INT32 converted;
  OPTIONAL INT64 revenue (DECIMAL(10,2));
  OPTIONAL INT32 revenue_denominator;
  OPTIONAL DOUBLE load_ms;
  OPTIONAL DOUBLE load_ms_pre;
}";

fn options(id: &str) -> ImportOptions {
    ImportOptions {
        experiment: id.into(),
        ..Default::default()
    }
}

both!(parquet_reads_as_csv_does);
async fn parquet_reads_as_csv_does(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // 70,000 units in two row groups, the first longer than a reading batch (65,536); every
    // 7th load time before the change unknown (null, an empty cell).
    let n = 70_000;
    let variation: Vec<Option<String>> = (0..n)
        .map(|i| Some(if i % 3 == 0 { "control" } else { "treatment" }.to_string()))
        .collect();
    let exposed: Vec<Option<i64>> = (0..n)
        .map(|i| Some(1_790_000_000 + i as i64 * 60))
        .collect();
    let exposed_ms: Vec<Option<i64>> = exposed.iter().map(|t| t.map(|t| t * 1_000)).collect();
    let converted: Vec<Option<i32>> = (0..n)
        .map(|i| Some(i32::from((i * 7919) % 10 < 2)))
        .collect();
    let cents: Vec<Option<i64>> = (0..n)
        .map(|i| Some(((i * 104_729) % 5_000) as i64))
        .collect();
    let revenue: Vec<Option<f64>> = cents.iter().map(|c| c.map(|c| c as f64 / 100.0)).collect();
    let sessions: Vec<Option<i32>> = (0..n).map(|i| Some(1 + (i * 31 % 5) as i32)).collect();
    let load: Vec<Option<f64>> = (0..n).map(|i| Some(250.0 + (i * 37 % 90) as f64)).collect();
    let pre: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 7 != 0).then(|| 240.0 + (i * 41 % 80) as f64))
        .collect();
    let parquet = dir.path().join("rows.parquet");
    write_parquet(
        &parquet,
        PER_UNIT,
        &[
            Col::Required(variation.iter().flatten().cloned().collect()),
            Col::Long(exposed_ms),
            Col::Int(converted.clone()),
            Col::Long(cents),
            Col::Int(sessions.clone()),
            Col::Double(load.clone()),
            Col::Double(pre.clone()),
        ],
        66_000,
    );
    let mut csv = String::from(
        "variation,exposed_at,converted,revenue,revenue_denominator,load_ms,load_ms_pre\n",
    );
    for i in 0..n {
        let cell = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            variation[i].as_deref().unwrap(),
            exposed[i].unwrap(),
            converted[i].unwrap(),
            cell(revenue[i]),
            sessions[i].unwrap(),
            cell(load[i]),
            cell(pre[i]),
        ));
    }
    let csv_path = dir.path().join("rows.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let from_parquet = import_file(&db.store, &parquet, options("pq"))
        .await
        .unwrap();
    let from_csv = import_file(&db.store, &csv_path, options("csv"))
        .await
        .unwrap();
    assert_eq!(from_parquet.rows, 70_000);
    let kinds = |i: &flightdeck_core::sources::experiment_file::Imported| {
        i.metrics
            .iter()
            .map(|m| (m.name.clone(), m.kind))
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&from_parquet), kinds(&from_csv));
    assert_eq!(
        kinds(&from_parquet),
        [
            ("converted".to_string(), MetricKind::Binomial),
            ("revenue".to_string(), MetricKind::Ratio),
            ("load_ms".to_string(), MetricKind::Mean)
        ]
    );
    assert_eq!(from_parquet.experiment.started_at, 1_790_000_000);
    assert_eq!(from_parquet.sums.len(), from_csv.sums.len());
    for (a, b) in from_parquet.sums.iter().zip(&from_csv.sums) {
        assert_eq!(
            (&a.metric, &a.variation, a.n),
            (&b.metric, &b.variation, b.n)
        );
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs().max(1.0);
        assert!(
            close(a.sum, b.sum) && close(a.sum_squares, b.sum_squares),
            "{a:?} {b:?}"
        );
        assert_eq!(a.denominator.is_some(), b.denominator.is_some());
        assert_eq!(a.pre.is_some(), b.pre.is_some());
        if let (Some(x), Some(y)) = (a.pre, b.pre) {
            assert!(
                close(x.0, y.0) && close(x.1, y.1) && close(x.2, y.2),
                "{a:?} {b:?}"
            );
        }
    }
    // Day by day alike: 70,000 units a minute apart (48.6 days) touch 50 UTC days; the last
    // day holds the totals.
    let (hp, hc) = (&from_parquet.history, &from_csv.history);
    assert!(hp.whole && hc.whole);
    assert_eq!(hp.points.len(), 50);
    assert_eq!(hp.points.len(), hc.points.len());
    for (p, c) in hp.points.iter().zip(&hc.points) {
        assert_eq!(p.day, c.day);
        assert_eq!(p.sums.len(), c.sums.len(), "{}", p.day);
        for (a, b) in p.sums.iter().zip(&c.sums) {
            assert_eq!(
                (&a.metric, &a.variation, a.n),
                (&b.metric, &b.variation, b.n)
            );
            assert!(
                (a.sum - b.sum).abs() <= 1e-9 * b.sum.abs().max(1.0),
                "{a:?} {b:?}"
            );
        }
    }
    let last = hp.points.last().unwrap();
    for (a, b) in last.sums.iter().zip(&from_parquet.sums) {
        assert_eq!(
            (&a.metric, &a.variation, a.n),
            (&b.metric, &b.variation, b.n)
        );
    }

    // Aggregates in Parquet, as a warehouse export gives them.
    let agg = dir.path().join("sums.parquet");
    write_parquet(
        &agg,
        "message sums { REQUIRED BYTE_ARRAY variation (UTF8); REQUIRED BYTE_ARRAY metric (UTF8);
           REQUIRED INT64 n; REQUIRED DOUBLE sum; REQUIRED DOUBLE sum_squares; }",
        &[
            Col::Text(vec![Some("control".into()), Some("treatment".into())]),
            Col::Text(vec![Some("signed_up".into()), Some("signed_up".into())]),
            Col::Long(vec![Some(10_000), Some(10_100)]),
            Col::Double(vec![Some(1_210.0), Some(1_322.0)]),
            Col::Double(vec![Some(1_210.0), Some(1_322.0)]),
        ],
        10,
    );
    let done = import_file(&db.store, &agg, options("agg")).await.unwrap();
    assert_eq!(done.metrics[0].kind, MetricKind::Binomial);
    assert_eq!(done.experiment.variants[1].units, 10_100);
    assert_eq!(done.experiment.variants[1].conversions, 1_322);

    // Bad rows: named by file, row and column; nothing stored.
    let bad = dir.path().join("bad.parquet");
    write_parquet(
        &bad,
        "message rows { OPTIONAL BYTE_ARRAY variation (UTF8); OPTIONAL INT32 converted; }",
        &[
            Col::Text(vec![
                Some("control".into()),
                Some("treatment".into()),
                Some("other".into()),
            ]),
            Col::Int(vec![Some(1), Some(0), Some(1)]),
        ],
        2,
    );
    let o = ImportOptions {
        variations: vec!["control".into(), "treatment".into()],
        ..options("bad")
    };
    let err = import_file(&db.store, &bad, o)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("bad.parquet: row 3: column `variation`: `other` is not a variation of this experiment (control, treatment)"),
        "{err}"
    );
    let negative = dir.path().join("negative.parquet");
    write_parquet(
        &negative,
        "message sums { REQUIRED BYTE_ARRAY variation (UTF8); REQUIRED BYTE_ARRAY metric (UTF8);
           REQUIRED INT64 n; REQUIRED DOUBLE sum; REQUIRED DOUBLE sum_squares; }",
        &[
            Col::Text(vec![Some("control".into()), Some("treatment".into())]),
            Col::Text(vec![Some("m".into()), Some("m".into())]),
            Col::Long(vec![Some(10), Some(-4)]),
            Col::Double(vec![Some(1.0), Some(1.0)]),
            Col::Double(vec![Some(1.0), Some(1.0)]),
        ],
        10,
    );
    let err = import_file(&db.store, &negative, options("neg"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("negative.parquet: row 2: column `n`: a negative count (-4)"),
        "{err}"
    );
    let text = dir.path().join("text.parquet");
    write_parquet(
        &text,
        "message rows { OPTIONAL BYTE_ARRAY variation (UTF8); OPTIONAL BYTE_ARRAY converted (UTF8); }",
        &[
            Col::Text(vec![Some("control".into()), Some("treatment".into())]),
            Col::Text(vec![Some("yes".into()), Some("no".into())]),
        ],
        10,
    );
    let err = import_file(&db.store, &text, options("text"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column `converted`: text, not a number"),
        "{err}"
    );
    // A covariate that is not a number (NaN, as some writers leave a missing value).
    let nan = dir.path().join("nan.parquet");
    write_parquet(
        &nan,
        "message rows { REQUIRED BYTE_ARRAY variation (UTF8); REQUIRED DOUBLE load_ms;
           REQUIRED DOUBLE load_ms_pre; }",
        &[
            Col::Required(vec!["control".into(), "treatment".into()]),
            Col::Double(vec![Some(300.0), Some(310.0)]),
            Col::Double(vec![Some(290.0), Some(f64::NAN)]),
        ],
        10,
    );
    let err = import_file(&db.store, &nan, options("nan"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("nan.parquet: row 2: column `load_ms_pre`: NaN is not a number"),
        "{err}"
    );
    // zstd, as Polars and DuckDB write by default; variations as numbers (0 is control).
    let zstd = dir.path().join("zstd.parquet");
    write_with(
        &zstd,
        "message rows { REQUIRED INT32 variation; REQUIRED INT32 converted; }",
        &[
            Col::Int(vec![Some(0), Some(1), Some(0), Some(1)]),
            Col::Int(vec![Some(0), Some(1), Some(1), Some(1)]),
        ],
        10,
        parquet::basic::Compression::ZSTD(Default::default()),
    );
    let o = ImportOptions {
        variations: vec!["0".into(), "1".into()],
        ..options("zstd")
    };
    let done = import_file(&db.store, &zstd, o).await.unwrap();
    assert_eq!(done.experiment.variants[1].conversions, 2);
    for id in ["bad", "neg", "text", "nan"] {
        assert!(db.store.experiment(id).await.unwrap().is_none());
    }
}
