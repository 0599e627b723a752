//! Experiments from the terminal: import a CSV, list, a scorecard as text, JSON and RFC 4180
//! CSV; a bad file is one error line and a non-zero exit.

use super::*;

#[test]
fn experiments_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let file = home.path().join("results.csv");
    std::fs::write(
        &file,
        "variation,metric,n,sum,sum_squares\n\
         control,signed_up,10000,1210,1210\n\
         treatment,signed_up,10100,1322,1322\n\
         control,\"minutes, active\",10000,52000,412000\n\
         treatment,\"minutes, active\",10100,52300,420000\n",
    )
    .unwrap();
    let said = ok(&run(&[
        "experiment",
        "import",
        file.to_str().unwrap(),
        "--experiment",
        "onboarding-v2",
        "--name",
        "Onboarding, second try",
        "--guardrail",
        "minutes, active",
        "--flag",
        "onboarding_v2_enabled",
    ]));
    assert!(said.contains("onboarding-v2: 4 rows, 2 metrics"), "{said}");

    let text = ok(&run(&["experiment", "show", "onboarding-v2"]));
    assert!(
        text.contains("no change request puts onboarding-v2 or onboarding_v2_enabled in code"),
        "{text}"
    );
    assert!(text.contains("signed_up (binomial)"), "{text}");
    assert!(text.contains("detects a lift of ±"), "{text}");
    assert!(text.contains("minutes, active (mean, guardrail)"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(&run(&[
        "experiment",
        "show",
        "onboarding-v2",
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["experiment"]["name"], "Onboarding, second try");
    assert_eq!(
        json["metrics"][0]["variations"][0]["variation"],
        "treatment"
    );
    let lift = json["metrics"][0]["variations"][0]["lift"]["estimate"]
        .as_f64()
        .unwrap();
    // 13.09 % against 12.10 %.
    assert!(
        (lift - (1322.0 / 10100.0) / 0.121 + 1.0).abs() < 1e-9,
        "{lift}"
    );

    // CSV a spreadsheet reads: the metric name with a comma is quoted.
    let csv_out = ok(&run(&["experiment", "show", "onboarding-v2", "--csv"]));
    let mut rows = csv_out.lines();
    assert!(rows
        .next()
        .unwrap()
        .starts_with("metric,variation,units,mean,lift"));
    assert!(
        csv_out.contains("\"minutes, active\",treatment,10100,"),
        "{csv_out}"
    );
    let list = ok(&run(&["experiment", "list", "--csv"]));
    assert!(
        list.contains("onboarding-v2,\"Onboarding, second try\",running,"),
        "{list}"
    );

    // A variation the experiment does not have: named, exit 1, nothing replaced.
    let bad = home.path().join("bad.csv");
    std::fs::write(
        &bad,
        "variation,metric,n,sum,sum_squares\ncontrol,signed_up,5,1,1\nvariant-c,signed_up,5,1,1\n",
    )
    .unwrap();
    let out = run(&[
        "experiment",
        "import",
        bad.to_str().unwrap(),
        "--experiment",
        "onboarding-v2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_line(&out).contains("bad.csv:3: column `variation`: `variant-c` is not a variation"),
        "{}",
        stderr_line(&out)
    );
    let again: serde_json::Value = serde_json::from_str(&ok(&run(&[
        "experiment",
        "show",
        "onboarding-v2",
        "--json",
    ])))
    .unwrap();
    assert_eq!(again["units"], json["units"]);
    let out = run(&["experiment", "show", "nope"]);
    assert!(stderr_line(&out).contains("no experiment `nope`"));

    // Per-unit rows with exposure times: the lift as it stood at the end of each day.
    let units = home.path().join("units.csv");
    std::fs::write(
        &units,
        "variation,exposed_at,bought
         control,2026-11-01T09:00:00Z,0
control,2026-11-01T10:00:00Z,1
         treatment,2026-11-01T11:00:00Z,1
treatment,2026-11-01T12:00:00Z,0
         control,2026-11-02T09:00:00Z,0
treatment,2026-11-02T09:30:00Z,1
",
    )
    .unwrap();
    let u = units.to_str().unwrap();
    ok(&run(&["experiment", "import", u, "--experiment", "daily"]));
    let text = ok(&run(&["experiment", "show", "daily"]));
    assert!(
        text.contains("Cumulative lift of bought, treatment against control (2 days):"),
        "{text}"
    );
    // Day 2: 2/3 against 1/3.
    assert!(text.contains("2026-11-02         3  +100.0%"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&run(&["experiment", "show", "daily", "--json"]))).unwrap();
    assert_eq!(json["cumulative"][0]["points"][1]["day"], "2026-11-02");

    // Decided from the terminal as this machine's user: signed, stopped, taken once.
    let out = run(&["experiment", "decide", "onboarding-v2", "maybe"]);
    assert!(stderr_line(&out).contains("`maybe` is not a decision"));
    let said = ok(&run(&[
        "experiment",
        "decide",
        "onboarding-v2",
        "iterate",
        "--reason",
        "try a shorter form",
    ]));
    assert!(
        said.contains("onboarding-v2: iterate by Alice Lead"),
        "{said}"
    );
    let out = run(&["experiment", "decide", "onboarding-v2", "stop"]);
    assert!(
        stderr_line(&out).contains("was decided already: iterate by Alice Lead"),
        "{}",
        stderr_line(&out)
    );
    let decided: serde_json::Value = serde_json::from_str(&ok(&run(&[
        "experiment",
        "show",
        "onboarding-v2",
        "--json",
    ])))
    .unwrap();
    assert_eq!(decided["experiment"]["state"], "stopped");
    assert_eq!(decided["decision"]["reason"], "try a shorter form");
    let audit = ok(&run(&["audit", "verify"]));
    assert!(
        audit.contains("ok: 1 entries, chain and signatures intact"),
        "{audit}"
    );
}

/// `experiment sync` reads GrowthBook with the key from the environment (never an argument),
/// says what it read, and fails with one line naming the cause without a key or with a wrong
/// one.
#[test]
fn experiments_from_growthbook() {
    use fakehub::growthbook::{Cell, Experiment, GrowthBook, Metric};
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("fd.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gb = GrowthBook::new("secret_cli");
    gb.put_metric(Metric {
        id: "met_signup".into(),
        name: "Signed up".into(),
        kind: "binomial".into(),
        inverse: false,
    });
    let mut e = Experiment::new(
        "exp_1",
        "onboarding-v3",
        "Onboarding v3",
        &[("v0", "control"), ("v1", "treatment")],
    );
    e.goals = vec!["met_signup".into()];
    gb.put_experiment(e);
    gb.set_results(
        "exp_1",
        "snp_1",
        vec![(
            "met_signup".into(),
            vec![
                Cell::binomial(8_000.0, 800.0),
                Cell::binomial(8_000.0, 880.0),
            ],
        )],
    );
    let url = rt.block_on(gb.serve(0)).unwrap();
    let sync = |key: Option<&str>| {
        let mut c = flightdeck(home.path());
        c.arg("--database-url")
            .arg(&db)
            .args(["experiment", "sync"])
            .env("FLIGHTDECK_GROWTHBOOK_API", &url)
            .env_remove("GROWTHBOOK_API_KEY");
        if let Some(k) = key {
            c.env("GROWTHBOOK_API_KEY", k);
        }
        c.output().unwrap()
    };
    let none = sync(None);
    assert!(!none.status.success());
    assert!(
        stderr_line(&none).contains("GROWTHBOOK_API_KEY"),
        "{}",
        stderr_line(&none)
    );
    let wrong = sync(Some("secret_nope"));
    assert!(!wrong.status.success());
    assert!(
        stderr_line(&wrong).contains("Invalid API key"),
        "{}",
        stderr_line(&wrong)
    );
    let said = ok(&sync(Some("secret_cli")));
    assert!(said.contains("1 experiments listed, 1 updated"), "{said}");
    let again = ok(&sync(Some("secret_cli")));
    assert!(again.contains("0 updated, 1 unchanged"), "{again}");
    let text = ok(&with_db(
        home.path(),
        &db,
        &["experiment", "show", "onboarding-v3"],
    ));
    assert!(text.contains("Signed up (binomial)"), "{text}");
    drop(rt);
}
