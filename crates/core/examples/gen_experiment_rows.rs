//! Writes per-unit experiment rows for the benchmarks: `gen_experiment_rows FILE ROWS`, as CSV,
//! or as Parquet when FILE ends in `.parquet` (the same rows).
//! Columns as `flightdeck experiment import` reads them (docs/features.md#experiments): a unit
//! id, its variation (control or treatment, 50/50), when it was exposed, a conversion (0/1),
//! revenue over sessions (a ratio metric) and load time with a pre-period value (CUPED).

use std::io::Write;

/// SplitMix64: the same rows on every run, without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One unit's row.
struct Unit {
    treated: bool,
    exposed_at: i64,
    converted: u8,
    revenue: f64,
    sessions: u32,
    load: u32,
    pre: u32,
}

fn units(rows: u64) -> impl Iterator<Item = Unit> {
    let mut rng = Rng(16);
    let start = 1_790_000_000_i64;
    (0..rows).map(move |u| {
        let treated = rng.next() < 0.5;
        let converted = u8::from(rng.next() < if treated { 0.105 } else { 0.10 });
        let sessions = 1 + (rng.next() * 4.0) as u32;
        let revenue = (rng.next() * 20.0 * f64::from(sessions) * 100.0).round() / 100.0;
        let pre = 300 + (rng.next() * 100.0) as u32;
        let load = pre * 4 / 5 + (rng.next() * 50.0) as u32;
        Unit {
            treated,
            exposed_at: start + (u as i64) / 100,
            converted,
            revenue,
            sessions,
            load,
            pre,
        }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: gen_experiment_rows FILE[.parquet] ROWS");
    let rows: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    if path.ends_with(".parquet") {
        return parquet(&path, rows);
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    writeln!(
        out,
        "unit_id,variation,exposed_at,converted,revenue,revenue_denominator,load_ms,load_ms_pre"
    )?;
    for (u, x) in units(rows).enumerate() {
        writeln!(
            out,
            "u{u},{},{},{},{},{},{},{}",
            if x.treated { "treatment" } else { "control" },
            x.exposed_at,
            x.converted,
            x.revenue,
            x.sessions,
            x.load,
            x.pre
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The same rows as Parquet: Snappy, row groups of a million rows (as pyarrow writes them).
fn parquet(path: &str, rows: u64) -> Result<(), Box<dyn std::error::Error>> {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    let schema = Arc::new(parquet::schema::parser::parse_message_type(
        "message rows { REQUIRED BYTE_ARRAY unit_id (UTF8); REQUIRED BYTE_ARRAY variation (UTF8);
           REQUIRED INT64 exposed_at; REQUIRED INT32 converted; REQUIRED DOUBLE revenue;
           REQUIRED INT32 revenue_denominator; REQUIRED INT32 load_ms; REQUIRED INT32 load_ms_pre; }",
    )?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build(),
    );
    let mut w = SerializedFileWriter::new(std::fs::File::create(path)?, schema, props)?;
    let mut all = units(rows).enumerate().peekable();
    while all.peek().is_some() {
        let group: Vec<(usize, Unit)> = all.by_ref().take(1_000_000).collect();
        let mut rg = w.next_row_group()?;
        let mut i = 0;
        while let Some(mut c) = rg.next_column()? {
            match i {
                0 | 1 => {
                    let vals: Vec<ByteArray> = group
                        .iter()
                        .map(|(u, x)| match i {
                            0 => ByteArray::from(format!("u{u}").into_bytes()),
                            _ => ByteArray::from(if x.treated { "treatment" } else { "control" }),
                        })
                        .collect();
                    c.typed::<ByteArrayType>().write_batch(&vals, None, None)?;
                }
                2 => {
                    let vals: Vec<i64> = group.iter().map(|(_, x)| x.exposed_at).collect();
                    c.typed::<Int64Type>().write_batch(&vals, None, None)?;
                }
                4 => {
                    let vals: Vec<f64> = group.iter().map(|(_, x)| x.revenue).collect();
                    c.typed::<DoubleType>().write_batch(&vals, None, None)?;
                }
                _ => {
                    let vals: Vec<i32> = group
                        .iter()
                        .map(|(_, x)| match i {
                            3 => i32::from(x.converted),
                            5 => x.sessions as i32,
                            6 => x.load as i32,
                            _ => x.pre as i32,
                        })
                        .collect();
                    c.typed::<Int32Type>().write_batch(&vals, None, None)?;
                }
            }
            c.close()?;
            i += 1;
        }
        rg.close()?;
    }
    w.close()?;
    Ok(())
}
