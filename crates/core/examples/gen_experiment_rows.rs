//! Writes per-unit experiment rows for the benchmarks: `gen_experiment_rows FILE ROWS`.
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

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: gen_experiment_rows FILE ROWS");
    let rows: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    writeln!(
        out,
        "unit_id,variation,exposed_at,converted,revenue,revenue_denominator,load_ms,load_ms_pre"
    )?;
    let mut rng = Rng(16);
    let start = 1_790_000_000_i64;
    for u in 0..rows {
        let treated = rng.next() < 0.5;
        let converted = u8::from(rng.next() < if treated { 0.105 } else { 0.10 });
        let sessions = 1 + (rng.next() * 4.0) as u32;
        let revenue = (rng.next() * 20.0 * f64::from(sessions) * 100.0).round() / 100.0;
        let pre = 300 + (rng.next() * 100.0) as u32;
        let load = pre * 4 / 5 + (rng.next() * 50.0) as u32;
        writeln!(
            out,
            "u{u},{},{},{converted},{revenue},{sessions},{load},{pre}",
            if treated { "treatment" } else { "control" },
            start + (u as i64) / 100
        )?;
    }
    out.flush()
}
