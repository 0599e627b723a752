//! Experiment results from files to a scorecard: per-unit rows and per-variation aggregates
//! read streaming, stored on both databases, judged with the statistics of `stats` (whose
//! numbers `tests/stats.rs` checks against gbstats); bad input named by file, line and column
//! with nothing stored.

mod support;

use std::fmt::Write as _;
use std::path::Path;

use flightdeck_core::domain::experiments::import_file;
use flightdeck_core::domain::experiments::scorecard;
use flightdeck_core::model::MetricKind;
use flightdeck_core::sources::experiment_file::ImportOptions;
use flightdeck_core::stats::scorecard::Outcome;
use serde_json::Value;
use support::{both, TestDb};

const NOW: i64 = 1_790_000_000;

fn options(id: &str) -> ImportOptions {
    ImportOptions {
        experiment: id.into(),
        ..Default::default()
    }
}

/// Writes `body` to `dir/name` and imports it as experiment `id`.
async fn import_csv(
    store: &flightdeck_core::store::Store,
    dir: &Path,
    name: &str,
    body: &str,
    id: &str,
) {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    import_file(store, &path, options(id)).await.unwrap();
}

/// Per-variation sums of one binomial metric `clicked`: 10,312 against 9,688 of a 50/50 split.
const MISMATCHED: &str = "variation,metric,n,sum,sum_squares\ncontrol,clicked,10312,1031,1031\ntreatment,clicked,9688,1453,1453\n";

/// Each metric of an import with its kind.
fn kinds_of(done: &flightdeck_core::sources::experiment_file::Imported) -> Vec<(&str, MetricKind)> {
    done.metrics
        .iter()
        .map(|m| (m.name.as_str(), m.kind))
        .collect()
}

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stats/reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A small deterministic generator (SplitMix64), so the rows are the same on every run.
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

/// Per-unit rows: a conversion (0/1), revenue with sessions (a ratio) and load time with a
/// pre-period value (CUPED), for control and treatment; returns the file and, computed here
/// row by row, each variation's (n, Σconverted, Σrevenue, Σsessions, Σrevenue·sessions).
fn per_unit_file(dir: &Path, units: usize) -> (std::path::PathBuf, [[f64; 5]; 2]) {
    let mut rng = Rng(7);
    let mut text = String::from(
        "unit_id,variation,exposed_at,converted,revenue,revenue_denominator,load_ms,load_ms_pre\n",
    );
    let mut sums = [[0.0; 5]; 2];
    for u in 0..units {
        let v = usize::from(rng.next() < 0.5);
        let converted = f64::from(u8::from(rng.next() < if v == 1 { 0.14 } else { 0.10 }));
        let sessions = 1.0 + (rng.next() * 4.0).floor();
        let revenue = (rng.next() * 20.0 * sessions * 100.0).round() / 100.0;
        let pre = 300.0 + rng.next() * 100.0;
        let load = (pre * 0.8 + rng.next() * 50.0).round();
        let name = ["control", "treatment"][v];
        writeln!(
            text,
            "u{u},{name},{},{converted},{revenue},{sessions},{load},{pre}",
            NOW - 86_400 * 10 + u as i64
        )
        .unwrap();
        for (slot, x) in
            sums[v]
                .iter_mut()
                .zip([1.0, converted, revenue, sessions, revenue * sessions])
        {
            *slot += x;
        }
    }
    let path = dir.join("units.csv");
    std::fs::write(&path, text).unwrap();
    (path, sums)
}

async fn per_unit_rows_become_a_scorecard(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (path, want) = per_unit_file(dir.path(), 5_000);
    let mut o = options("checkout-cta");
    o.guardrails = vec!["load_ms".into()];
    o.inverse = vec!["load_ms".into()];
    let done = import_file(&db.store, &path, o).await.unwrap();
    assert_eq!(done.rows, 5_000);
    assert_eq!(
        kinds_of(&done),
        [
            ("converted", MetricKind::Binomial),
            ("revenue", MetricKind::Ratio),
            ("load_ms", MetricKind::Mean)
        ]
    );
    // The sums stored are the rows' sums.
    let stored = db.store.metric_sums("checkout-cta").await.unwrap();
    for (v, name) in ["control", "treatment"].iter().enumerate() {
        let of = |m: &str| {
            stored
                .iter()
                .find(|s| s.metric == m && s.variation == *name)
                .unwrap()
        };
        let close = |a: f64, b: f64| assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} {b}");
        close(of("converted").n, want[v][0]);
        close(of("converted").sum, want[v][1]);
        close(of("revenue").sum, want[v][2]);
        let (d, _, products) = of("revenue").denominator.unwrap();
        close(d, want[v][3]);
        close(products, want[v][4]);
        assert!(of("load_ms").pre.is_some());
    }
    let card = scorecard(&db.store, "checkout-cta", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.experiment.metric, "converted");
    assert_eq!(card.units, 5_000.0);
    assert!(
        (card.days_running - 10.0).abs() < 0.1,
        "{}",
        card.days_running
    );
    assert!(!card.srm, "a fair coin split: p = {}", card.srm_p_value);
    let converted = &card.metrics[0].variations[0];
    assert_eq!(converted.variation, "treatment");
    let lift = converted.lift.unwrap();
    // 14 % against 10 %: a lift near +40 %, its interval around it.
    assert!(lift.ci.0 < lift.estimate && lift.estimate < lift.ci.1);
    assert!((0.2..0.6).contains(&lift.estimate), "{lift:?}");
    // The always-valid interval is wider than the one-look interval.
    let seq = converted.sequential.unwrap();
    assert!(seq.ci.1 - seq.ci.0 > lift.ci.1 - lift.ci.0);
    assert_eq!(converted.verdict, Outcome::Win);
    assert!(card
        .ready
        .as_deref()
        .unwrap_or("")
        .contains("treatment wins on converted"));

    // Spaces around fields are not part of them; an unknown exposure time moves nothing.
    import_csv(
        &db.store,
        dir.path(),
        "spaced.csv",
        "variation , clicked, exposed_at\n control , 1, 1790000000\ntreatment ,0,\ncontrol, 0 ,\ntreatment, 1, 1789990000\n",
        "spaced",
    )
    .await;
    let e = db.store.experiment("spaced").await.unwrap().unwrap();
    let names: Vec<&str> = e.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["control", "treatment"]);
    assert_eq!(e.started_at, 1_789_990_000);
    db.finish().await;
}
both!(per_unit_rows_become_a_scorecard);

/// Aggregates from a file give exactly the reference library's lift and interval.
async fn aggregates_give_the_reference_numbers(db: TestDb) {
    let r = reference();
    let p = &r["proportions"][1];
    let m = &r["means"][1];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agg.csv");
    let mut text = String::from("variation,metric,n,sum,sum_squares\n");
    for (variation, key) in [("control", "a"), ("treatment", "b")] {
        let (n, x) = (&p[key]["n"], &p[key]["sum"]);
        writeln!(text, "{variation},signup,{n},{x},{x}").unwrap();
        let s = &m[key];
        writeln!(
            text,
            "{variation},minutes,{},{},{}",
            s["n"], s["sum"], s["sum_squares"]
        )
        .unwrap();
    }
    std::fs::write(&path, text).unwrap();
    import_file(&db.store, &path, options("onboarding"))
        .await
        .unwrap();
    let card = scorecard(&db.store, "onboarding", NOW)
        .await
        .unwrap()
        .unwrap();
    for (i, (metric, want)) in [("signup", p), ("minutes", m)].iter().enumerate() {
        let c = &card.metrics[i];
        assert_eq!(c.metric.name, *metric);
        let got = c.variations[0].lift.unwrap();
        let want = &want["welch"]["relative"];
        for (g, w) in [
            (got.estimate, &want["estimate"]),
            (got.ci.0, &want["ci"][0]),
            (got.ci.1, &want["ci"][1]),
            (got.p_value, &want["p_value"]),
        ] {
            let w = w.as_f64().unwrap();
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{metric}: {g} vs {w}"
            );
        }
    }
    assert_eq!(card.metrics[0].metric.kind, MetricKind::Binomial);
    assert_eq!(card.metrics[1].metric.kind, MetricKind::Mean);
    db.finish().await;
}
both!(aggregates_give_the_reference_numbers);

/// A split far from the configured one is flagged and never "ready".
async fn a_sample_ratio_mismatch_is_flagged(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    import_csv(&db.store, dir.path(), "srm.csv", MISMATCHED, "pricing-page").await;
    let card = scorecard(&db.store, "pricing-page", NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(card.srm && card.srm_p_value < 0.001, "{}", card.srm_p_value);
    assert_eq!(card.metrics[0].variations[0].verdict, Outcome::Win);
    assert_eq!(card.ready, None, "a mismatch is never ready to decide");
    db.finish().await;
}
both!(a_sample_ratio_mismatch_is_flagged);

/// Each bad input: one line naming the file, line and column; what was stored stays.
async fn bad_input_is_named_and_stores_nothing(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "variation,metric,n,sum,sum_squares\ncontrol,clicked,100,10,10\ntreatment,clicked,100,12,12\n",
    )
    .unwrap();
    import_file(&db.store, &good, options("e1")).await.unwrap();
    let before = db.store.metric_sums("e1").await.unwrap();
    for (name, body, want) in [
        (
            "no-variation.csv",
            "arm,clicked\ncontrol,1\n",
            "no-variation.csv:1: column `variation`: missing",
        ),
        (
            "text.csv",
            "variation,revenue\ncontrol,3.5\ntreatment,abc\n",
            "text.csv:3: column `revenue`: `abc` is not a number",
        ),
        (
            "negative.csv",
            "variation,metric,n,sum,sum_squares\ncontrol,clicked,100,10,10\ntreatment,clicked,-4,1,1\n",
            "negative.csv:3: column `n`: a negative count (-4)",
        ),
        (
            "stranger.csv",
            "variation,metric,n,sum,sum_squares\ncontrol,clicked,100,10,10\nvariant-c,clicked,100,12,12\n",
            "stranger.csv:3: column `variation`: `variant-c` is not a variation of this experiment (control, treatment)",
        ),
        (
            "short.csv",
            "variation,clicked\ncontrol,1\ntreatment\n",
            "short.csv:3",
        ),
        (
            "millis.csv",
            "variation,exposed_at,clicked\ncontrol,1793534400,1\ntreatment,1793534400123,0\n",
            "millis.csv:3: column `exposed_at`: `1793534400123` is past the year 9999 as Unix seconds (milliseconds? give seconds)",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let err = import_file(&db.store, &path, options("e1"))
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\n'), "one line: {err}");
        assert!(err.contains(want), "{name}: {err}");
    }
    // Far into a big file (past the reader's first batches), the line is still exact; and a
    // bad number is reported before a broken record further on.
    let mut big = String::from("variation,clicked\n");
    for i in 0..10_000 {
        let value = if i == 8_999 { "x1" } else { "1" };
        writeln!(big, "{},{value}", ["control", "treatment"][i % 2]).unwrap();
    }
    big.push_str("control\n");
    let path = dir.path().join("big.csv");
    std::fs::write(&path, big).unwrap();
    let err = import_file(&db.store, &path, options("e1"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("big.csv:9001: column `clicked`: `x1` is not a number"),
        "{err}"
    );
    assert_eq!(db.store.metric_sums("e1").await.unwrap(), before);
    db.finish().await;
}
both!(bad_input_is_named_and_stores_nothing);

fn alice() -> flightdeck_core::domain::team::Acting<'static> {
    static ALICE: std::sync::OnceLock<flightdeck_core::domain::team::Person> =
        std::sync::OnceLock::new();
    flightdeck_core::domain::team::Acting::alone(
        ALICE.get_or_init(|| flightdeck_core::domain::team::Person::named("Alice Lead")),
    )
}

/// Ship, stop, iterate: the winner ships unless named, the decision is signed with what the
/// scorecard said, taken once (two instances racing: one wins), survives a re-import, and a
/// sample-ratio mismatch needs a reason.
async fn decisions_are_signed_and_taken_once(db: TestDb) {
    use flightdeck_core::domain::experiments::{decide, DecideError};
    use flightdeck_core::model::{ExperimentCall, ExperimentState};
    let dir = tempfile::tempdir().unwrap();
    let key =
        flightdeck_core::model::audit::AuditKey::load_or_create(&dir.path().join("key")).unwrap();
    let (path, _) = per_unit_file(dir.path(), 5_000);
    import_file(&db.store, &path, options("cta")).await.unwrap();
    import_csv(&db.store, dir.path(), "flat.csv", "variation,metric,n,sum,sum_squares\ncontrol,clicked,1000,100,100\nb,clicked,1000,104,104\nc,clicked,1000,97,97\n", "flat").await;

    // Nothing wins in `flat`: which variation ships must be said, and be one of them.
    let err = decide(
        &db.store,
        &key,
        alice(),
        "flat",
        ExperimentCall::Ship,
        None,
        "",
        NOW,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DecideError::NeedsVariation(_)), "{err}");
    assert!(
        err.to_string().contains("none wins yet (variations: b, c)"),
        "{err}"
    );
    let err = decide(
        &db.store,
        &key,
        alice(),
        "flat",
        ExperimentCall::Ship,
        Some("control"),
        "",
        NOW,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DecideError::NotAVariation(..)), "{err}");
    assert!(matches!(
        decide(
            &db.store,
            &key,
            alice(),
            "nope",
            ExperimentCall::Stop,
            None,
            "",
            NOW
        )
        .await,
        Err(DecideError::NotFound(_))
    ));

    // Two instances decide `cta` at once, differently: exactly one decision stands.
    let other = flightdeck_core::store::Store::open(&db.url).await.unwrap();
    let key_path = dir.path().join("key");
    let load = |p: &Path| flightdeck_core::model::audit::AuditKey::load_or_create(p).unwrap();
    let (key1, key2) = (load(&key_path), load(&key_path));
    let (store2, store1) = (other.clone(), db.store.clone());
    let ship = tokio::spawn(async move {
        decide(
            &store1,
            &key1,
            alice(),
            "cta",
            ExperimentCall::Ship,
            None,
            "",
            NOW,
        )
        .await
    });
    let stop = tokio::spawn(async move {
        decide(
            &store2,
            &key2,
            alice(),
            "cta",
            ExperimentCall::Stop,
            None,
            "",
            NOW,
        )
        .await
    });
    let (ship, stop) = (ship.await.unwrap(), stop.await.unwrap());
    assert!(
        ship.is_ok() != stop.is_ok(),
        "one stands: {ship:?} {stop:?}"
    );
    let taken = db.store.experiment_decision("cta").await.unwrap().unwrap();
    if let Ok(d) = &ship {
        assert_eq!(
            d.variation.as_deref(),
            Some("treatment"),
            "the winner ships"
        );
        assert_eq!(taken.call, ExperimentCall::Ship);
    } else {
        assert!(stop.is_ok());
        assert_eq!(taken.call, ExperimentCall::Stop);
        assert!(matches!(ship, Err(DecideError::Decided { .. })), "{ship:?}");
    }
    other.close().await;
    let key =
        flightdeck_core::model::audit::AuditKey::load_or_create(&dir.path().join("key")).unwrap();
    // The same decision again stands as taken; another is refused, naming the first.
    let again = decide(
        &db.store,
        &key,
        alice(),
        "cta",
        taken.call,
        taken.variation.as_deref(),
        "",
        NOW + 5,
    )
    .await
    .unwrap();
    assert_eq!(again, taken);
    let other_call = if taken.call == ExperimentCall::Stop {
        ExperimentCall::Iterate
    } else {
        ExperimentCall::Stop
    };
    let err = decide(&db.store, &key, alice(), "cta", other_call, None, "", NOW)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("was decided already") && err.contains("by Alice Lead"),
        "{err}"
    );

    // Decided is stopped, and a re-import keeps it so.
    import_file(&db.store, &path, options("cta")).await.unwrap();
    let e = db.store.experiment("cta").await.unwrap().unwrap();
    assert_eq!(e.state, ExperimentState::Stopped);
    assert_eq!(
        scorecard(&db.store, "cta", NOW)
            .await
            .unwrap()
            .unwrap()
            .decision,
        Some(taken.clone())
    );

    // A mismatch needs a reason.
    import_csv(&db.store, dir.path(), "srm.csv", MISMATCHED, "srm").await;
    let err = decide(
        &db.store,
        &key,
        alice(),
        "srm",
        ExperimentCall::Stop,
        None,
        "",
        NOW,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DecideError::Mismatch(..)), "{err}");
    decide(
        &db.store,
        &key,
        alice(),
        "srm",
        ExperimentCall::Stop,
        None,
        "the split was broken by a cache",
        NOW,
    )
    .await
    .unwrap();

    // The audit log: each decision once, signed, with what the scorecard said.
    let entries = db.store.audit_entries().await.unwrap();
    let decided: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e.action.starts_with("experiment "))
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(decided.len(), 2, "{decided:?}");
    let first = entries.iter().find(|e| e.target == "cta").unwrap();
    assert!(
        first.detail.contains("converted treatment +"),
        "{}",
        first.detail
    );
    let srm_entry = entries.iter().find(|e| e.target == "srm").unwrap();
    assert!(
        srm_entry
            .detail
            .contains("sample-ratio mismatch; reason: the split was broken by a cache"),
        "{}",
        srm_entry.detail
    );
    db.finish().await;
}
both!(decisions_are_signed_and_taken_once);

/// Aggregates as a warehouse query returns them: ratio and covariate columns on every row,
/// empty where a metric has no such part; spaces around fields; weights given control first
/// while the file starts with treatment; a re-import of sums keeps the start.
async fn aggregates_with_every_column(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let body = "variation , metric, n, sum, sum_squares, denominator_sum, denominator_sum_squares, sum_products, pre_sum, pre_sum_squares, pre_sum_products
treatment, clicked, 1000, 130, 130, , , , , ,
control, clicked, 1000, 100, 100, , , , , ,
treatment, revenue, 1000, 5200, 61000, 2500, 7000, 14000, , ,
control, revenue, 1000, 5000, 60000, 2500, 7000, 13500, , ,
treatment, minutes, 1000, 41000, 1900000, , , , 40000, 1800000, 1700000
control, minutes, 1000, 40000, 1800000, , , , 40100, 1810000, 1690000
";
    let path = dir.path().join("warehouse.csv");
    std::fs::write(&path, body).unwrap();
    let mut o = options("wh");
    o.weights = vec![0.7, 0.3];
    let done = import_file(&db.store, &path, o).await.unwrap();
    assert_eq!(
        kinds_of(&done),
        [
            ("clicked", MetricKind::Binomial),
            ("revenue", MetricKind::Ratio),
            ("minutes", MetricKind::Mean)
        ]
    );
    let sums = db.store.metric_sums("wh").await.unwrap();
    let of = |m: &str| sums.iter().find(|s| s.metric == m).unwrap();
    assert_eq!(of("clicked").denominator, None);
    assert_eq!(of("clicked").pre, None);
    assert!(of("revenue").denominator.is_some() && of("revenue").pre.is_none());
    assert!(
        of("minutes").pre.is_some(),
        "every variation has the covariate"
    );
    let e = db.store.experiment("wh").await.unwrap().unwrap();
    let weights: Vec<(&str, Option<f64>)> = e
        .variants
        .iter()
        .map(|v| (v.name.as_str(), v.weight))
        .collect();
    assert_eq!(weights, [("control", Some(0.7)), ("treatment", Some(0.3))]);
    let card = scorecard(&db.store, "wh", NOW).await.unwrap().unwrap();
    for m in &card.metrics {
        assert!(
            m.variations[0].lift.is_some(),
            "{}: {:?}",
            m.metric.name,
            m.variations[0].error
        );
    }
    // 1,000 each against a 70/30 split: a mismatch.
    assert!(card.srm);
    // Sums read again later keep the start.
    import_file(&db.store, &path, options("wh")).await.unwrap();
    assert_eq!(
        db.store.experiment("wh").await.unwrap().unwrap().started_at,
        e.started_at
    );
    db.finish().await;
}
both!(aggregates_with_every_column);

/// A guardrail where lower is better, much worse in treatment: its verdict, its chance to
/// win, readiness, and shipping it only with a reason.
async fn a_breached_guardrail_stops_a_ship(db: TestDb) {
    use flightdeck_core::domain::experiments::{decide, DecideError};
    use flightdeck_core::model::ExperimentCall;
    let dir = tempfile::tempdir().unwrap();
    let key =
        flightdeck_core::model::audit::AuditKey::load_or_create(&dir.path().join("key")).unwrap();
    let path = dir.path().join("g.csv");
    // Conversions flat; load time 300 ms → 330 ms (sd about 50 ms).
    std::fs::write(
        &path,
        "variation,metric,n,sum,sum_squares\n\
         control,signed_up,5000,600,600\ntreatment,signed_up,5000,640,640\n\
         control,load_ms,5000,1500000,462500000\ntreatment,load_ms,5000,1650000,557000000\n",
    )
    .unwrap();
    let mut o = options("g");
    o.guardrails = vec!["load_ms".into()];
    o.inverse = vec!["load_ms".into()];
    import_file(&db.store, &path, o).await.unwrap();
    let card = scorecard(&db.store, "g", NOW).await.unwrap().unwrap();
    let load = card
        .metrics
        .iter()
        .find(|m| m.metric.name == "load_ms")
        .unwrap();
    let v = &load.variations[0];
    assert!(v.lift.unwrap().estimate > 0.09, "{:?}", v.lift);
    assert_eq!(v.verdict, Outcome::GuardrailBreached);
    assert!(
        v.chance_to_win.unwrap() < 0.01,
        "higher is worse: {:?}",
        v.chance_to_win
    );
    assert_eq!(
        card.ready.as_deref(),
        Some("treatment breaks guardrail load_ms")
    );
    let err = decide(
        &db.store,
        &key,
        alice(),
        "g",
        ExperimentCall::Ship,
        Some("treatment"),
        "",
        NOW,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DecideError::Guardrail(..)), "{err}");
    decide(
        &db.store,
        &key,
        alice(),
        "g",
        ExperimentCall::Ship,
        Some("treatment"),
        "the slower page is the price of the new checkout",
        NOW,
    )
    .await
    .unwrap();
    let entry = db
        .store
        .audit_entries()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.target == "g")
        .unwrap();
    assert!(
        entry.detail.contains("load_ms treatment +"),
        "{}",
        entry.detail
    );
    db.finish().await;
}
both!(a_breached_guardrail_stops_a_ship);

/// Each metric states the smallest lift its sample can detect (80 % power, α = 0.05): for a
/// 10 % conversion rate on 10,000 units a side, (z₀.₉₇₅ + z₀.₈)·√(2/10,000)·√(0.1·0.9)/0.1 ≈
/// 11.9 %, from `design::minimum_detectable_effect` (checked against statsmodels in
/// tests/stats.rs); a ratio metric states none.
#[tokio::test]
async fn each_metric_states_its_minimum_detectable_effect() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    import_csv(
        &db.store,
        dir.path(),
        "mde.csv",
        "variation,metric,n,sum,sum_squares,denominator_sum,denominator_sum_squares,sum_products\n\
         control,signed_up,10000,1000,1000,,,\n\
         treatment,signed_up,10000,1040,1040,,,\n\
         control,revenue,10000,52000,412000,20000,50000,110000\n\
         treatment,revenue,10000,52300,420000,20100,50500,111000\n",
        "mde",
    )
    .await;
    let card = scorecard(&db.store, "mde", NOW).await.unwrap().unwrap();
    let signed_up = card
        .metrics
        .iter()
        .find(|m| m.metric.name == "signed_up")
        .unwrap();
    let d = flightdeck_core::stats::design::minimum_detectable_effect(10_000.0, 1.0, 0.05, 0.8);
    let want = d * (0.1_f64 * 0.9).sqrt() / 0.1;
    let got = signed_up.mde.unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert!((got - 0.1189).abs() < 5e-4, "{got}");
    let revenue = card
        .metrics
        .iter()
        .find(|m| m.metric.name == "revenue")
        .unwrap();
    assert_eq!(revenue.metric.kind, MetricKind::Ratio);
    assert_eq!(revenue.mde, None);
}

/// Cumulative lift over time: a per-unit file's exposure times give a point a day, each over
/// the units exposed by then; a file of totals adds one point per day it is read, keeping the
/// days before; a per-unit file read again replaces every day.
async fn history_day_by_day(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // Day 1: 2 control, 2 treatment; day 2: 1 more each; day 3: 1 treatment. One unit with
    // no time counts in the totals, on no day.
    let rows = "variation,exposed_at,bought\n\
        control,2026-11-01T09:00:00Z,0\n\
        treatment,2026-11-01T10:00:00Z,1\n\
        control,2026-11-01T23:59:59Z,1\n\
        treatment,1793534400,0\n\
        control,2026-11-02T08:00:00Z,0\n\
        treatment,2026-11-02T08:00:00Z,1\n\
        treatment,2026-11-03T00:00:00Z,1\n\
        control,,1\n";
    import_csv(&db.store, dir.path(), "units.csv", rows, "buy").await;
    let h = db.store.experiment_history("buy").await.unwrap();
    let days: Vec<&str> = h.iter().map(|p| p.day.as_str()).collect();
    assert_eq!(days, ["2026-11-01", "2026-11-02", "2026-11-03"]);
    let cell = |day: usize, v: &str| {
        let s = h[day].sums.iter().find(|s| s.variation == v).unwrap();
        (s.n, s.sum)
    };
    assert_eq!(cell(0, "control"), (2.0, 1.0));
    assert_eq!(cell(0, "treatment"), (2.0, 1.0));
    assert_eq!(cell(1, "control"), (3.0, 1.0));
    assert_eq!(cell(2, "treatment"), (4.0, 3.0));
    // Control had no unit on day 3: its total carries over.
    assert_eq!(cell(2, "control"), (3.0, 1.0));
    // The totals hold the untimed unit too.
    let sums = db.store.metric_sums("buy").await.unwrap();
    let control = sums.iter().find(|s| s.variation == "control").unwrap();
    assert_eq!((control.n, control.sum), (4.0, 2.0));
    // The series: a point a day per variation, the lift of that day's sums.
    let series = flightdeck_core::domain::experiments::cumulative(&db.store, "buy")
        .await
        .unwrap()
        .unwrap()
        .1;
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].variation, "treatment");
    let units: Vec<f64> = series[0].points.iter().map(|p| p.units).collect();
    assert_eq!(units, [2.0, 3.0, 4.0]);
    // Day 2: 2/3 against 1/3 is a relative lift of 100 %.
    let lift = series[0].points[1].lift.unwrap();
    assert!((lift.estimate - 1.0).abs() < 1e-12, "{lift:?}");

    // Totals (aggregates) read now add today's point and keep the days before.
    let agg =
        "variation,metric,n,sum,sum_squares\ncontrol,bought,10,3,3\ntreatment,bought,10,5,5\n";
    import_csv(&db.store, dir.path(), "agg.csv", agg, "buy").await;
    let h = db.store.experiment_history("buy").await.unwrap();
    let today = flightdeck_core::model::days::of(chrono::Utc::now().timestamp());
    assert_eq!(h.len(), 4, "{h:?}");
    assert_eq!(h[3].day, today);
    assert_eq!(h[3].sums.len(), 2);
    // Read again the same day: still one point for today, with the new totals.
    let agg2 = agg.replace("10,5,5", "12,6,6");
    import_csv(&db.store, dir.path(), "agg.csv", &agg2, "buy").await;
    let h = db.store.experiment_history("buy").await.unwrap();
    assert_eq!(h.len(), 4);
    let t = h[3]
        .sums
        .iter()
        .find(|s| s.variation == "treatment")
        .unwrap();
    assert_eq!(t.n, 12.0);

    // A per-unit file is every day there is: the days it does not have go.
    let later = "variation,exposed_at,bought\ncontrol,2026-11-05T00:00:00Z,1\ntreatment,2026-11-05T01:00:00Z,0\n";
    import_csv(&db.store, dir.path(), "later.csv", later, "buy").await;
    let h = db.store.experiment_history("buy").await.unwrap();
    let days: Vec<&str> = h.iter().map(|p| p.day.as_str()).collect();
    assert_eq!(days, ["2026-11-05"]);
    db.finish().await;
}
both!(history_day_by_day);

/// Guardrail breaches are found the same whether a few experiments are guarded (read one by
/// one) or many (read all at once): 20 guarded, every other one breached, plus one guarded
/// but decided and one breached without a guardrail mark.
async fn breaches_among_many_guarded_experiments(db: TestDb) {
    use flightdeck_core::domain::experiments::guardrail_breaches;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.csv");
    let csv = |load_treatment: &str| {
        format!(
            "variation,metric,n,sum,sum_squares\n\
             control,signed_up,5000,600,600\ntreatment,signed_up,5000,640,640\n\
             control,load_ms,5000,1500000,462500000\ntreatment,load_ms,{load_treatment}\n"
        )
    };
    let (breached, flat) = ("5000,1650000,557000000", "5000,1500000,462500000");
    let import = |id: String, body: String, guarded: bool| {
        let (store, path) = (&db.store, &path);
        async move {
            std::fs::write(path, body).unwrap();
            let mut o = options(&id);
            if guarded {
                o.guardrails = vec!["load_ms".into()];
            }
            o.inverse = vec!["load_ms".into()];
            import_file(store, path, o).await.unwrap();
        }
    };
    let mut want = Vec::new();
    for k in 0..20 {
        let id = format!("g{k:02}");
        let body = csv(if k % 2 == 0 { breached } else { flat });
        import(id.clone(), body, true).await;
        if k % 2 == 0 {
            want.push(id);
        }
    }
    import("unguarded".into(), csv(breached), false).await;
    let found = |b: Vec<flightdeck_core::domain::experiments::Breach>| {
        let mut ids: Vec<String> = b.into_iter().map(|b| b.experiment).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        found(guardrail_breaches(&db.store, NOW).await.unwrap()),
        want
    );
    // A few left guarded: the same answer, read one by one.
    for k in 0..20 {
        if k >= 4 {
            let id = format!("g{k:02}");
            import(id, csv(breached), false).await;
        }
    }
    assert_eq!(
        found(guardrail_breaches(&db.store, NOW).await.unwrap()),
        ["g00", "g02"]
    );
    db.finish().await;
}
both!(breaches_among_many_guarded_experiments);
