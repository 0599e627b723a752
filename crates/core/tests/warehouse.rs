//! Experiment results from a PostgreSQL warehouse: per-unit queries (with a ratio's denominator,
//! a CUPED covariate and exposure times, summed in the warehouse) and an aggregate query give
//! the same numbers the warehouse computes over the same rows; bad specs, queries and rows named by file,
//! metric, row and column with nothing stored.

mod support;

use flightdeck_core::domain::experiments::{import_warehouse, scorecard};
use flightdeck_core::model::MetricKind;
use support::{both, TestDb};

/// A warehouse (its own PostgreSQL database) with 3,000 exposures: variation, bought (0/1),
/// revenue over sessions, a pre-period value, exposure time, and page loads in another table.
async fn warehouse() -> TestDb {
    let w = TestDb::postgres().await;
    let pool = sqlx::PgPool::connect(&w.url).await.unwrap();
    for sql in [
        "CREATE TABLE exposures (unit_id int, variation text, bought boolean, revenue numeric,
           sessions int, pre_revenue double precision, exposed_at timestamptz)",
        // Deterministic rows: the treatment converts and earns a little more.
        "INSERT INTO exposures SELECT i,
           CASE WHEN i % 2 = 0 THEN 'control' ELSE 'treatment' END,
           (i * 7919) % 100 < (CASE WHEN i % 2 = 0 THEN 10 ELSE 13 END),
           ((i * 104729) % 5000) / 100.0 + (i % 2) * 1.5,
           1 + (i * 31) % 5,
           ((i * 104729) % 4000) / 100.0,
           timestamptz '2026-11-01 00:00:00+00' + (i || ' minutes')::interval
         FROM generate_series(1, 3000) AS i",
        "CREATE TABLE page_loads (variation text, ms double precision)",
        "INSERT INTO page_loads SELECT CASE WHEN i % 2 = 0 THEN 'control' ELSE 'treatment' END,
           200 + (i * 37) % 150 + (i % 2) * 4 FROM generate_series(1, 5000) AS i",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    w
}

const SPEC: &str = r#"
experiment = "checkout-cta"
name = "Checkout copy"
variations = ["control", "treatment"]
flags = ["checkout_cta_enabled"]

[[metrics]]
name = "bought"
# A boolean value, and a comment closing the query's last line.
query = """SELECT variation, bought AS value, exposed_at
           FROM exposures -- every exposure"""

[[metrics]]
name = "revenue per session"
query = """SELECT variation, revenue AS value, sessions AS denominator, pre_revenue AS pre
           FROM exposures;"""

[[metrics]]
name = "load_ms"
guardrail = true
inverse = true
query = """SELECT variation, count(*) AS n, sum(ms) AS sum, sum(ms * ms) AS sum_squares
           FROM page_loads GROUP BY variation"""
"#;

fn spec_file(dir: &std::path::Path, name: &str, url: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("url = \"{url}\"\n{body}")).unwrap();
    path
}

both!(a_warehouse_query_per_metric_becomes_a_scorecard);
async fn a_warehouse_query_per_metric_becomes_a_scorecard(db: TestDb) {
    let w = warehouse().await;
    let dir = tempfile::tempdir().unwrap();
    let path = spec_file(dir.path(), "cta.toml", &w.url, SPEC);
    let done = import_warehouse(&db.store, &path).await.unwrap();
    // Units summed: 3,000 exposures for each per-unit metric, 5,000 page loads.
    assert_eq!(done.rows, 3_000 + 3_000 + 5_000);
    let kinds: Vec<(&str, MetricKind)> = done
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), m.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("bought", MetricKind::Binomial),
            ("revenue per session", MetricKind::Ratio),
            ("load_ms", MetricKind::Mean)
        ]
    );
    // The first exposure is the start.
    assert_eq!(
        done.experiment.started_at,
        chrono::DateTime::parse_from_rfc3339("2026-11-01T00:01:00Z")
            .unwrap()
            .timestamp()
    );

    // Every sum equals what the warehouse computes over the same rows.
    let pool = sqlx::PgPool::connect(&w.url).await.unwrap();
    let sums = db.store.metric_sums("checkout-cta").await.unwrap();
    let get = |metric: &str, variation: &str| {
        sums.iter()
            .find(|s| s.metric == metric && s.variation == variation)
            .unwrap()
            .clone()
    };
    for v in ["control", "treatment"] {
        let (n, b, r, rr, d, dd, rd, p, pp, rp): (
            i64,
            i64,
            f64,
            f64,
            f64,
            f64,
            f64,
            f64,
            f64,
            f64,
        ) = sqlx::query_as(
            "SELECT count(*), sum(bought::int)::int8, sum(revenue)::float8,
                   sum(revenue * revenue)::float8, sum(sessions)::float8,
                   sum(sessions * sessions)::float8, sum(revenue * sessions)::float8,
                   sum(pre_revenue), sum(pre_revenue * pre_revenue),
                   sum(revenue::float8 * pre_revenue)
                 FROM exposures WHERE variation = $1",
        )
        .bind(v)
        .fetch_one(&pool)
        .await
        .unwrap();
        let bought = get("bought", v);
        assert_eq!((bought.n, bought.sum), (n as f64, b as f64));
        let rev = get("revenue per session", v);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert!(close(rev.sum, r) && close(rev.sum_squares, rr), "{rev:?}");
        let (sd, sdd, sp) = rev.denominator.unwrap();
        assert!(close(sd, d) && close(sdd, dd) && close(sp, rd), "{rev:?}");
        let (xp, xpp, xmp) = rev.pre.unwrap();
        assert!(close(xp, p) && close(xpp, pp) && close(xmp, rp), "{rev:?}");
        let (ln, ls, lss): (i64, f64, f64) = sqlx::query_as(
            "SELECT count(*), sum(ms), sum(ms * ms) FROM page_loads WHERE variation = $1",
        )
        .bind(v)
        .fetch_one(&pool)
        .await
        .unwrap();
        let load = get("load_ms", v);
        assert_eq!(load.n, ln as f64);
        assert!(
            close(load.sum, ls) && close(load.sum_squares, lss),
            "{load:?}"
        );
    }
    pool.close().await;
    let card = scorecard(&db.store, "checkout-cta", 1_790_000_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.experiment.name, "Checkout copy");
    assert!(card.metrics[2].metric.guardrail && card.metrics[2].metric.inverse);
    let keys = db.store.experiment_keys().await.unwrap();
    assert!(keys
        .iter()
        .any(|(e, k)| e == "checkout-cta" && k.key == "checkout_cta_enabled"));
    w.finish().await;
}

both!(bad_specs_queries_and_rows_are_named);
async fn bad_specs_queries_and_rows_are_named(db: TestDb) {
    let w = warehouse().await;
    let dir = tempfile::tempdir().unwrap();
    let err = |name: &str, url: &str, body: &str| {
        let path = spec_file(dir.path(), name, url, body);
        let store = db.store.clone();
        async move {
            import_warehouse(&store, &path)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    let one = |query: &str| {
        format!(
            "experiment = \"x\"\nvariations = [\"control\", \"treatment\"]\n[[metrics]]\nname = \"m\"\nquery = \"{query}\"\n"
        )
    };
    let e = err(
        "sql.toml",
        &w.url,
        &one("SELECT variation, nope AS value FROM exposures"),
    )
    .await;
    assert!(
        e.contains("sql.toml: metric `m`: the query failed") && e.contains("nope"),
        "{e}"
    );
    let e = err(
        "negative.toml",
        &w.url,
        &one("SELECT variation, -count(*) AS n, 0 AS sum, 0 AS sum_squares FROM exposures GROUP BY 1 ORDER BY 1"),
    )
    .await;
    assert!(
        e.contains("negative.toml: metric `m`: row 1: column `n`: a negative count"),
        "{e}"
    );
    let e = err(
        "null.toml",
        &w.url,
        &one("SELECT variation, count(*) AS n, NULL::float8 AS sum, 0 AS sum_squares FROM exposures GROUP BY 1"),
    )
    .await;
    assert!(e.contains("column `sum`: NULL is not a number"), "{e}");
    let e = err(
        "variation.toml",
        &w.url,
        &one("SELECT 'other' AS variation, 1 AS value"),
    )
    .await;
    assert!(
        e.contains("row 1: column `variation`: `other` is not a variation of this experiment"),
        "{e}"
    );
    let e = err(
        "text.toml",
        &w.url,
        &one("SELECT variation, 'abc' AS value FROM exposures"),
    )
    .await;
    assert!(
        e.contains("text.toml: metric `m`: column `value` (value) is TEXT, not a number"),
        "{e}"
    );
    let e = err(
        "shape.toml",
        &w.url,
        &one("SELECT variation FROM exposures"),
    )
    .await;
    assert!(e.contains("neither per-unit rows"), "{e}");
    // A password in the file is refused; a warehouse that does not answer is named quickly.
    let e = err(
        "password.toml",
        "postgres://analyst:hunter2@127.0.0.1/events",
        &one("SELECT 1"),
    )
    .await;
    assert!(e.contains("holds a password"), "{e}");
    let started = std::time::Instant::now();
    let e = err(
        "down.toml",
        "postgres://analyst@127.0.0.1:1/events",
        &one("SELECT 1"),
    )
    .await;
    assert!(e.contains("cannot be reached"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // Nothing was stored by any of them.
    assert!(db.store.experiment("x").await.unwrap().is_none());
    w.finish().await;
}
