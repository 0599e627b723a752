//! Experiment results in Parquet, in the same two shapes as CSV (`experiment_file`): per-unit
//! rows (`variation` and one column per metric, with `M_denominator`, `M_pre`, `exposed_at`)
//! read with the column reader, every column in step, `BATCH` rows at a time — memory holds
//! a batch, whatever the file's or its row groups' size — and per-variation aggregates (small: read as records and handed to the CSV
//! path's checks). Numbers may be any Parquet number type or boolean; a missing (null) value
//! counts 0, as an empty CSV cell. Errors name the file, the row and the column.

use std::path::Path;

use parquet::column::reader::ColumnReader;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use super::experiment_file::{
    add_unit, aggregates_from, exposure_time, finish, time_in_range, Acc, Days, FileError,
    ImportOptions, Imported, MetricColumns, Variations, OVERFLOW,
};

/// Whether `path` holds Parquet (its first bytes are `PAR1`).
pub fn is_parquet(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"PAR1"
}

fn read_error(path: &Path, e: impl std::fmt::Display) -> FileError {
    FileError::Read {
        file: path.into(),
        message: e.to_string(),
    }
}

pub fn read(path: &Path, o: &ImportOptions) -> Result<Imported, FileError> {
    let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| read_error(path, e))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    // Columns by their full path; a repeated (list) column holds no per-unit value.
    for i in 0..schema.num_columns() {
        let c = schema.column(i);
        if c.max_rep_level() > 0 {
            return Err(FileError::At {
                file: path.into(),
                line: 0,
                column: c.path().string(),
                message: "a list column: each row must hold one value per column".into(),
            });
        }
    }
    let header: Vec<String> = (0..schema.num_columns())
        .map(|i| schema.column(i).path().string())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    if col("variation").is_none() {
        return Err(FileError::At {
            file: path.into(),
            line: 0,
            column: "variation".into(),
            message: format!("missing; the file has {}", header.join(", ")),
        });
    }
    if col("metric").is_some() && col("n").is_some() {
        return aggregates(path, &reader, &header, o);
    }
    per_unit(path, &reader, &header, o)
}

/// One column of a row group as numbers (`None`: null), or as text for the variation.
enum Values {
    Numbers(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

/// Units read at a time from each column: memory holds this many rows, whatever the row
/// groups' size.
const BATCH: usize = 65_536;

/// A column chunk holding fewer rows than its row group says: the file is damaged.
fn short(path: &Path, name: &str, got: usize, rows: usize) -> Result<(), FileError> {
    if got == rows {
        return Ok(());
    }
    Err(FileError::Read {
        file: path.into(),
        message: format!("column `{name}`: {got} values where its row group has {rows} rows"),
    })
}

/// A column of the row group being read, and its definition level for a present value.
struct Reading {
    reader: ColumnReader,
    max_def: i16,
    name: String,
    /// What a stored number is multiplied by: a decimal's scale, a timestamp's unit (to
    /// seconds), a date's days (to seconds); 1 for a plain number.
    factor: f64,
}

/// The factor of a column's logical (or legacy converted) type; see `Reading::factor`.
fn factor(d: &parquet::schema::types::ColumnDescriptor) -> f64 {
    use parquet::basic::{ConvertedType, LogicalType, TimeUnit};
    match d.logical_type_ref() {
        Some(LogicalType::Timestamp(t)) => match t.unit {
            TimeUnit::MILLIS => 1e-3,
            TimeUnit::MICROS => 1e-6,
            TimeUnit::NANOS => 1e-9,
        },
        Some(LogicalType::Date) => 86_400.0,
        Some(LogicalType::Decimal(x)) => 10f64.powi(-x.scale),
        Some(_) => 1.0,
        None => match d.converted_type() {
            ConvertedType::TIMESTAMP_MILLIS => 1e-3,
            ConvertedType::TIMESTAMP_MICROS => 1e-6,
            ConvertedType::DATE => 86_400.0,
            ConvertedType::DECIMAL => 10f64.powi(-d.type_scale()),
            _ => 1.0,
        },
    }
}

impl Reading {
    fn open(
        path: &Path,
        reader: &SerializedFileReader<std::fs::File>,
        rg: usize,
        c: usize,
        name: &str,
    ) -> Result<Self, FileError> {
        let group = reader.get_row_group(rg).map_err(|e| read_error(path, e))?;
        let descr = group.metadata().column(c).column_descr();
        Ok(Reading {
            max_def: descr.max_def_level(),
            factor: factor(descr),
            reader: group
                .get_column_reader(c)
                .map_err(|e| read_error(path, e))?,
            name: name.into(),
        })
    }

    /// The next `rows` values: placed by their definition levels, so a null keeps its row.
    fn next(&mut self, path: &Path, rows: usize) -> Result<Values, FileError> {
        let (max_def, name, factor) = (self.max_def, self.name.as_str(), self.factor);
        let mut defs: Vec<i16> = Vec::with_capacity(rows);
        fn place<T>(values: Vec<T>, defs: &[i16], max_def: i16, rows: usize) -> Vec<Option<T>> {
            if max_def == 0 {
                return values.into_iter().map(Some).collect();
            }
            let mut it = values.into_iter();
            let mut out = Vec::with_capacity(rows);
            for d in defs {
                out.push(if *d == max_def { it.next() } else { None });
            }
            out
        }
        macro_rules! numbers {
            ($r:expr, $conv:expr) => {{
                let mut values = Vec::with_capacity(rows);
                let defs_opt = (max_def > 0).then_some(&mut defs);
                let (got, _, _) = $r
                    .read_records(rows, defs_opt, None, &mut values)
                    .map_err(|e| read_error(path, format!("column `{name}`: {e}")))?;
                short(path, name, got, rows)?;
                let conv = $conv;
                Values::Numbers(place(
                    values.into_iter().map(|v| conv(v) * factor).collect(),
                    &defs,
                    max_def,
                    rows,
                ))
            }};
        }
        Ok(match &mut self.reader {
            ColumnReader::BoolColumnReader(r) => numbers!(r, |v: bool| f64::from(u8::from(v))),
            ColumnReader::Int32ColumnReader(r) => numbers!(r, |v: i32| f64::from(v)),
            ColumnReader::Int64ColumnReader(r) => numbers!(r, |v: i64| v as f64),
            ColumnReader::FloatColumnReader(r) => numbers!(r, |v: f32| f64::from(v)),
            ColumnReader::DoubleColumnReader(r) => numbers!(r, |v: f64| v),
            ColumnReader::ByteArrayColumnReader(r) => {
                let mut values = Vec::with_capacity(rows);
                let defs_opt = (max_def > 0).then_some(&mut defs);
                let (got, _, _) = r
                    .read_records(rows, defs_opt, None, &mut values)
                    .map_err(|e| read_error(path, format!("column `{name}`: {e}")))?;
                short(path, name, got, rows)?;
                let text: Vec<String> = values
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.data()).trim().to_string())
                    .collect();
                Values::Text(place(text, &defs, max_def, rows))
            }
            _ => {
                return Err(FileError::At {
                    file: path.into(),
                    line: 0,
                    column: name.into(),
                    message: "a Parquet type that is neither a number, a boolean nor text".into(),
                })
            }
        })
    }
}

fn per_unit(
    path: &Path,
    reader: &SerializedFileReader<std::fs::File>,
    header: &[String],
    o: &ImportOptions,
) -> Result<Imported, FileError> {
    let col = |name: &str| header.iter().position(|h| h == name);
    let variation = col("variation").unwrap_or_default();
    let exposed = col("exposed_at");
    let mut metrics = MetricColumns::discover(path, header, 0)?;
    let mut variations = Variations::new(o);
    let mut acc: Vec<Vec<Acc>> = Vec::new();
    let mut days = Days::default();
    let mut rows = 0_u64;
    let at = |row: u64, column: &str, message: String| FileError::Row {
        file: path.into(),
        row,
        column: column.into(),
        message,
    };
    for rg in 0..reader.metadata().num_row_groups() {
        let in_group = reader.metadata().row_group(rg).num_rows().max(0) as usize;
        let open = |c: usize| Reading::open(path, reader, rg, c, &header[c]);
        let mut var_col = open(variation)?;
        let mut exposed_col = exposed.map(open).transpose()?;
        let mut metric_cols = Vec::with_capacity(metrics.len());
        for m in &metrics {
            metric_cols.push((
                open(m.value)?,
                m.denominator.map(open).transpose()?,
                m.pre.map(open).transpose()?,
            ));
        }
        let mut done = 0;
        while done < in_group {
            let n = BATCH.min(in_group - done);
            // Variations as text, or as numbers (GrowthBook's are often 0, 1, …).
            let names: Vec<Option<String>> = match var_col.next(path, n)? {
                Values::Text(t) => t,
                Values::Numbers(v) => v.into_iter().map(|x| x.map(|x| x.to_string())).collect(),
            };
            let numbers = |r: &mut Reading, at_row: u64| -> Result<Vec<Option<f64>>, FileError> {
                match r.next(path, n)? {
                    Values::Numbers(v) => Ok(v),
                    Values::Text(_) => Err(FileError::Row {
                        file: path.into(),
                        row: at_row,
                        column: r.name.clone(),
                        message: "text, not a number".into(),
                    }),
                }
            };
            let mut cols = Vec::with_capacity(metric_cols.len());
            for (value, d, p) in metric_cols.iter_mut() {
                cols.push((
                    numbers(value, rows + 1)?,
                    d.as_mut().map(|r| numbers(r, rows + 1)).transpose()?,
                    p.as_mut().map(|r| numbers(r, rows + 1)).transpose()?,
                ));
            }
            let times: Vec<Option<i64>> = match exposed_col
                .as_mut()
                .map(|r| r.next(path, n))
                .transpose()?
            {
                Some(Values::Numbers(t)) => {
                    let mut out = Vec::with_capacity(t.len());
                    for (k, x) in t.into_iter().enumerate() {
                        let x = x.map(|x| x as i64);
                        if let Some(x) = x.filter(|&x| !time_in_range(x)) {
                            return Err(at(
                                    rows + k as u64 + 1,
                                    "exposed_at",
                                    format!("{x} is past the year 9999 as Unix seconds (milliseconds? give seconds or a timestamp type)"),
                                ));
                        }
                        out.push(x);
                    }
                    out
                }
                Some(Values::Text(t)) => {
                    let mut out = Vec::with_capacity(t.len());
                    for (k, text) in t.iter().enumerate() {
                        out.push(match text.as_deref().filter(|s| !s.is_empty()) {
                            None => None,
                            Some(s) => Some(
                                exposure_time(s)
                                    .map_err(|m| at(rows + k as u64 + 1, "exposed_at", m))?,
                            ),
                        });
                    }
                    out
                }
                None => Vec::new(),
            };
            for (k, name) in names.iter().enumerate() {
                let row = rows + k as u64 + 1;
                let v = variations
                    .index(name.as_deref().unwrap_or(""))
                    .map_err(|m| at(row, "variation", m))?;
                while acc.len() <= v {
                    acc.push(vec![Acc::default(); metrics.len()]);
                }
                let mut day = None;
                if let Some(t) = times.get(k).copied().flatten() {
                    day = Some(days.cell(t, v, metrics.len()));
                }
                for (m, (value, d, p)) in cols.iter().enumerate() {
                    let x = value.get(k).copied().flatten().unwrap_or(0.0);
                    let get = |c: &Option<Vec<Option<f64>>>| {
                        c.as_ref()
                            .map(|c| c.get(k).copied().flatten().unwrap_or(0.0))
                    };
                    let (d, p) = (get(d), get(p));
                    let mc = &metrics[m];
                    // Column names are made only for an error: per row they cost more than
                    // the reading (10 million rows: 5.0 s with them, 1.7 s without).
                    for (number, suffix) in [(Some(x), ""), (d, "_denominator"), (p, "_pre")] {
                        if let Some(bad) = number.filter(|n| !n.is_finite()) {
                            let column = format!("{}{suffix}", mc.name);
                            return Err(at(row, &column, format!("{bad} is not a number")));
                        }
                    }
                    metrics[m].binary &= x == 0.0 || x == 1.0;
                    let mut fine = add_unit(&mut acc[v][m], x, d, p);
                    if let Some(day) = day.as_deref_mut() {
                        fine &= add_unit(&mut day[m], x, d, p);
                    }
                    if !fine {
                        return Err(at(row, &metrics[m].name, OVERFLOW.into()));
                    }
                }
            }
            rows += n as u64;
            done += n;
        }
    }
    if rows == 0 {
        return Err(FileError::Shape {
            file: path.into(),
            message: "no rows".into(),
        });
    }
    let kinds = MetricColumns::kinds(&metrics);
    finish(path, o, variations, &kinds, &days, rows, |v, m| {
        acc.get(v).map(|row| row[m])
    })
}

/// Per-variation aggregates (a handful of rows): read as records, written out as CSV and
/// checked by the CSV path, its line numbers turned back into rows.
fn aggregates(
    path: &Path,
    reader: &SerializedFileReader<std::fs::File>,
    header: &[String],
    o: &ImportOptions,
) -> Result<Imported, FileError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| read_error(path, e))?;
    let rows = reader.get_row_iter(None).map_err(|e| read_error(path, e))?;
    for row in rows {
        let row = row.map_err(|e| read_error(path, e))?;
        let fields: Vec<String> = row
            .get_column_iter()
            .map(|(_, f)| match f {
                Field::Null => String::new(),
                Field::Str(s) => s.clone(),
                Field::Bool(true) => "1".to_string(),
                Field::Bool(false) => "0".to_string(),
                other => other.to_string(),
            })
            .collect();
        w.write_record(&fields).map_err(|e| read_error(path, e))?;
    }
    let bytes = w.into_inner().map_err(|e| read_error(path, e))?;
    let rdr = csv::ReaderBuilder::new().from_reader(std::io::Cursor::new(bytes));
    aggregates_from(path, rdr, header, o).map_err(|e| match e {
        FileError::At {
            file,
            line,
            column,
            message,
        } => FileError::Row {
            file,
            row: line.saturating_sub(1),
            column,
            message,
        },
        e => e,
    })
}
