//! GrowthBook as a source, against the local fake of its REST API (`fakehub::growthbook`):
//! experiments read page by page into scorecards on both databases, a sync that skips what has
//! not changed, one bad experiment reported without losing the others, and the API's failures
//! (rate limits, server errors, a wrong key, a plain-http host) met as the real one sends them.

mod support;

use std::time::Duration;

use fakehub::growthbook::{Cell, Experiment, GbFault, GrowthBook, Metric};
use flightdeck_core::domain::experiments::scorecard;
use flightdeck_core::model::MetricKind;
use flightdeck_core::sources::growthbook::{self, GrowthBookApi, GrowthBookError};
use support::{both, TestDb};

const KEY: &str = "secret_test_abc123";
const NOW: i64 = 1_790_000_000;

fn metrics(gb: &GrowthBook) {
    gb.put_metric(Metric {
        id: "met_checkout".into(),
        name: "Checkout conversion".into(),
        kind: "binomial".into(),
        inverse: false,
    });
    gb.put_metric(Metric {
        id: "fact__latency".into(),
        name: "Page latency (ms)".into(),
        kind: "mean".into(),
        inverse: true,
    });
}

/// Three experiments worth reading, one archived, one with a result naming a variation it
/// does not have, and 100 drafts: more than one page of 100.
fn workspace(gb: &GrowthBook) {
    metrics(gb);
    let mut cta = Experiment::new(
        "exp_cta",
        "checkout-cta",
        "Checkout button copy",
        &[("var_c", "Control"), ("var_t", "Buy now")],
    );
    cta.goals = vec!["met_checkout".into()];
    cta.guardrails = vec!["fact__latency".into()];
    cta.linked_features = vec!["checkout-button-copy".into()];
    cta.date_started = "2026-09-01T12:00:00.000Z".into();
    cta.weights = vec![0.5, 0.5];
    gb.put_experiment(cta);
    gb.set_results(
        "exp_cta",
        "snp_1",
        vec![
            (
                "met_checkout".into(),
                vec![
                    Cell::binomial(20_000.0, 2_000.0),
                    Cell::binomial(20_080.0, 2_412.0),
                ],
            ),
            (
                "fact__latency".into(),
                vec![
                    Cell::mean(20_000.0, 310.0, 80.0),
                    Cell::mean(20_080.0, 312.0, 81.0),
                ],
            ),
        ],
    );
    let mut three = Experiment::new(
        "exp_three",
        "search ranking v2",
        "Search ranking",
        &[("v0", "Control"), ("v1", "A"), ("v2", "B")],
    );
    three.goals = vec!["met_checkout".into()];
    three.status = "stopped".into();
    gb.put_experiment(three);
    gb.set_results(
        "exp_three",
        "snp_9",
        vec![(
            "met_checkout".into(),
            vec![
                Cell::binomial(1_000.0, 100.0),
                Cell::binomial(1_000.0, 104.0),
                Cell::binomial(1_000.0, 98.0),
            ],
        )],
    );
    let mut broken = Experiment::new("exp_broken", "broken", "Broken", &[("a", "A"), ("b", "B")]);
    broken.goals = vec!["met_checkout".into()];
    gb.put_experiment(broken);
    gb.set_results(
        "exp_broken",
        "snp_2",
        vec![("met_checkout".into(), vec![Cell::binomial(10.0, 1.0)])],
    );
    let mut archived = Experiment::new("exp_old", "old", "Old", &[("a", "A"), ("b", "B")]);
    archived.archived = true;
    gb.put_experiment(archived);
    for k in 0..100 {
        let mut d = Experiment::new(
            &format!("exp_draft{k}"),
            &format!("draft-{k}"),
            "Draft",
            &[("a", "A"), ("b", "B")],
        );
        d.status = "draft".into();
        gb.put_experiment(d);
    }
}

async fn serve(gb: &GrowthBook) -> String {
    gb.serve(0).await.unwrap()
}

fn api(url: &str, key: &str) -> GrowthBookApi {
    GrowthBookApi::new(url, key.into())
        .unwrap()
        .with_backoff(Duration::from_millis(10))
}

both!(experiments_become_scorecards);
async fn experiments_become_scorecards(db: TestDb) {
    let gb = GrowthBook::new(KEY);
    workspace(&gb);
    let url = serve(&gb).await;
    let api = api(&url, KEY);
    let first = growthbook::sync(&api, &db.store).await.unwrap();
    assert_eq!(first.listed, 104, "both pages of 100 were read");
    assert_eq!(first.skipped, 101, "100 drafts and the archived one");
    assert_eq!(first.updated, 3);
    assert!(first.errors.is_empty(), "{:?}", first.errors);

    let card = scorecard(&db.store, "checkout-cta", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.experiment.name, "Checkout button copy");
    assert_eq!(card.experiment.metric, "Checkout conversion");
    let names: Vec<&str> = card
        .experiment
        .variants
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(names, ["Control", "Buy now"], "control first");
    assert_eq!(card.experiment.variants[1].units, 20_080);
    assert_eq!(card.experiment.variants[1].conversions, 2_412);
    assert_eq!(card.experiment.variants[0].weight, Some(0.5));
    assert_eq!(
        card.experiment.started_at,
        chrono::DateTime::parse_from_rfc3339("2026-09-01T12:00:00Z")
            .unwrap()
            .timestamp()
    );
    let conv = &card.metrics[0];
    assert_eq!(conv.metric.kind, MetricKind::Binomial);
    assert!(!conv.metric.guardrail);
    assert!((conv.control_mean - 0.1).abs() < 1e-12);
    assert!((conv.variations[0].mean - 2_412.0 / 20_080.0).abs() < 1e-12);
    // +20 % on 20,000 users a side: a win the sequential test sees too.
    let lift = conv.variations[0].lift.as_ref().unwrap();
    assert!((lift.estimate - (2_412.0 / 20_080.0 / 0.1 - 1.0)).abs() < 1e-9);
    assert_eq!(
        conv.variations[0].verdict,
        flightdeck_core::stats::scorecard::Outcome::Win
    );
    let latency = &card.metrics[1];
    assert_eq!(latency.metric.name, "Page latency (ms)");
    assert!(latency.metric.guardrail && latency.metric.inverse);
    // Σx and Σx² rebuilt from mean and sd give back that mean and sd.
    assert!((latency.control_mean - 310.0).abs() < 1e-9);
    let sums = db.store.metric_sums("checkout-cta").await.unwrap();
    let s = sums
        .iter()
        .find(|s| s.metric == "Page latency (ms)" && s.variation == "Buy now")
        .unwrap();
    let var = (s.sum_squares - s.sum * s.sum / s.n) / (s.n - 1.0);
    assert!((var.sqrt() - 81.0).abs() < 1e-6, "sd {}", var.sqrt());

    let keys = db.store.experiment_keys().await.unwrap();
    let of_cta: Vec<(&str, &str)> = keys
        .iter()
        .filter(|(e, _)| e == "checkout-cta")
        .map(|(_, k)| (k.key.as_str(), k.kind.as_str()))
        .collect();
    assert_eq!(
        of_cta,
        [
            ("checkout-button-copy", "flag"),
            ("checkout-cta", "tracking")
        ]
    );
    let origin = db
        .store
        .experiment_origin("checkout-cta")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(origin.external_id, "exp_cta");
    assert_eq!(origin.variation_ids, ["var_c", "var_t"]);
    // A tracking key that is not a plain id keeps GrowthBook's id; three arms, stopped.
    let three = scorecard(&db.store, "exp_three", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(three.experiment.variants.len(), 3);
    assert_eq!(three.experiment.state.as_str(), "stopped");

    // Nothing changed: no experiment is written again and no metric is asked for again.
    let before = gb.requests();
    let again = growthbook::sync(&api, &db.store).await.unwrap();
    assert_eq!((again.updated, again.unchanged), (0, 3));
    assert_eq!(
        gb.requests() - before,
        2 + 3,
        "two list pages and three results"
    );

    // A new snapshot is read.
    gb.set_results(
        "exp_cta",
        "snp_2",
        vec![
            (
                "met_checkout".into(),
                vec![
                    Cell::binomial(6_000.0, 600.0),
                    Cell::binomial(6_000.0, 700.0),
                ],
            ),
            (
                "fact__latency".into(),
                vec![
                    Cell::mean(6_000.0, 310.0, 80.0),
                    Cell::mean(6_000.0, 311.0, 80.0),
                ],
            ),
        ],
    );
    let third = growthbook::sync(&api, &db.store).await.unwrap();
    assert_eq!((third.updated, third.unchanged), (1, 2));
    let card = scorecard(&db.store, "checkout-cta", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.experiment.variants[1].units, 6_000);
}

both!(a_bad_experiment_is_named_and_the_rest_kept);
async fn a_bad_experiment_is_named_and_the_rest_kept(db: TestDb) {
    let gb = GrowthBook::new(KEY);
    workspace(&gb);
    // exp_broken's variations renamed in GrowthBook after its snapshot: the results name
    // variation ids the experiment no longer lists.
    gb.put_experiment({
        let mut b = Experiment::new("exp_broken", "broken", "Broken", &[("x", "X"), ("y", "Y")]);
        b.goals = vec!["met_checkout".into()];
        b
    });
    // Two experiments sharing one tracking key: each goes by its own id.
    for id in ["exp_d1", "exp_d2"] {
        let mut d = Experiment::new(id, "dup", "Dup", &[("a", "A"), ("b", "B")]);
        d.goals = vec!["met_checkout".into()];
        gb.put_experiment(d);
        gb.set_results(
            id,
            "s",
            vec![(
                "met_checkout".into(),
                vec![Cell::binomial(10.0, 1.0), Cell::binomial(10.0, 2.0)],
            )],
        );
    }
    // One whose results fail every time (its data source is gone): named, the rest read.
    let mut gone = Experiment::new("exp_gone", "gone", "Gone", &[("a", "A"), ("b", "B")]);
    gone.goals = vec!["met_checkout".into()];
    gb.put_experiment(gone);
    gb.break_results("exp_gone", 500);
    let url = serve(&gb).await;
    let report = growthbook::sync(&api(&url, KEY), &db.store).await.unwrap();
    assert_eq!(report.updated, 4, "{report:?}");
    assert!(db.store.experiment("exp_d1").await.unwrap().is_some());
    assert!(db.store.experiment("exp_d2").await.unwrap().is_some());
    assert!(db.store.experiment("dup").await.unwrap().is_none());
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    assert!(
        report.errors[1].contains("exp_gone") && report.errors[1].contains("500"),
        "{}",
        report.errors[1]
    );
    assert!(
        report.errors[0].contains("exp_broken") && report.errors[0].contains("`a`"),
        "names the experiment and the variation: {}",
        report.errors[0]
    );
    assert!(db.store.experiment("broken").await.unwrap().is_none());
    assert!(db.store.experiment("checkout-cta").await.unwrap().is_some());
}

#[tokio::test]
async fn the_apis_failures_are_met() {
    let db = TestDb::sqlite().await;
    let gb = GrowthBook::new(KEY);
    workspace(&gb);
    let url = serve(&gb).await;

    // A wrong key: refused, with GrowthBook's own words.
    let err = growthbook::sync(&api(&url, "secret_wrong"), &db.store)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GrowthBookError::Auth { status: 401, message } if message == "Invalid API key"),
        "{err}"
    );

    // Server errors are retried; so is a 429 with a short Retry-After.
    gb.push_fault(GbFault::Status(503));
    gb.push_fault(GbFault::RateLimited { retry_after: 1 });
    gb.push_fault(GbFault::Status(502));
    let ok = growthbook::sync(&api(&url, KEY), &db.store).await.unwrap();
    assert_eq!(ok.updated, 3);

    // A limit of 4 requests a second: the sync waits for each window instead of failing.
    let db2 = TestDb::sqlite().await;
    gb.set_rate_limit(4, Duration::from_secs(1));
    let slow = growthbook::sync(&api(&url, KEY), &db2.store).await.unwrap();
    assert_eq!(slow.updated, 3);
    // It paused when `RateLimit-Remaining` said 0, rather than running into 429s.
    assert_eq!(gb.limited(), 0);
    gb.set_rate_limit(60, Duration::from_secs(60));

    // A server error that does not pass: the sync fails naming the URL and the status.
    for _ in 0..4 {
        gb.push_fault(GbFault::Status(500));
    }
    let err = growthbook::sync(&api(&url, KEY), &db.store)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GrowthBookError::Http { status: 500, url, .. } if url.contains("/api/v1/experiments")),
        "{err}"
    );

    // The key is never sent over plain http to another machine.
    let err = GrowthBookApi::new("http://growthbook.example.com", KEY.into())
        .err()
        .unwrap();
    assert!(err.to_string().contains("only over https"), "{err}");
    assert!(GrowthBookApi::new("https://growthbook.example.com/api/v1/", KEY.into()).is_ok());
}

both!(decisions_go_back_to_growthbook_once);

fn alice() -> flightdeck_core::domain::team::Acting<'static> {
    static ALICE: std::sync::OnceLock<flightdeck_core::domain::team::Person> =
        std::sync::OnceLock::new();
    flightdeck_core::domain::team::Acting::alone(
        ALICE.get_or_init(|| flightdeck_core::domain::team::Person::named("Alice Lead")),
    )
}

/// A decision taken here goes back to GrowthBook through the outbox, exactly once: a ship
/// stops the experiment there with the shipped variation rolled out, a stop rolls out nothing,
/// an iterate sends nothing; deciding again queues nothing more; a stop whose answer was lost
/// is found done on the next pass instead of being sent again; with no GrowthBook configured
/// it waits, saying why.
async fn decisions_go_back_to_growthbook_once(db: TestDb) {
    use flightdeck_core::domain::experiments::decide;
    use flightdeck_core::domain::outbox::{self, Appliers, GrowthBookApplier, LocalApplier};
    use flightdeck_core::model::{ActionState, ExperimentCall};
    let gb = GrowthBook::new(KEY);
    workspace(&gb);
    let url = serve(&gb).await;
    growthbook::sync(&api(&url, KEY), &db.store).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key =
        flightdeck_core::model::audit::AuditKey::load_or_create(&dir.path().join("key")).unwrap();
    let appliers = |configured: bool| Appliers {
        local: LocalApplier {
            store: db.store.clone(),
            name: "Alice Lead".into(),
            email: "alice@acme.dev".into(),
        },
        github: None,
        growthbook: configured.then(|| GrowthBookApplier {
            api: api(&url, KEY),
        }),
        reach: Default::default(),
    };

    // Queued at once, and without GrowthBook here it waits, saying why.
    let d = decide(
        &db.store,
        &key,
        alice(),
        "checkout-cta",
        ExperimentCall::Ship,
        None,
        "",
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(d.variation.as_deref(), Some("Buy now"));
    let waiting = outbox::sync(&db.store, &appliers(false), &key, NOW)
        .await
        .unwrap();
    assert_eq!(waiting.retrying, 1);
    let a = &db.store.actions().await.unwrap()[0];
    assert_eq!(a.target, "growthbook:checkout-cta");
    assert!(
        a.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("GROWTHBOOK_API_KEY"),
        "{a:?}"
    );
    assert!(gb.stops().is_empty());

    // Meanwhile someone stops it by hand in GrowthBook, rolling nothing out. That is not
    // this decision: the pass that looks first (the action was tried once) sends it anyway.
    api(&url, KEY)
        .stop("exp_cta", "dnf", None, "paused by hand")
        .await
        .unwrap()
        .unwrap();
    // Sent: stopped there as won, the shipped variation rolled out to everyone.
    let later = NOW + 3_600;
    let sent = outbox::sync(&db.store, &appliers(true), &key, later)
        .await
        .unwrap();
    assert_eq!(sent.applied, 1, "{sent:?}");
    let stops = gb.stops();
    assert_eq!(stops.len(), 2, "{stops:?}");
    assert_eq!(
        stops[1..],
        [fakehub::growthbook::Stop {
            experiment: "exp_cta".into(),
            results: "won".into(),
            released_variation: Some("var_t".into()),
            temporary_rollout: true,
        }]
    );
    assert_eq!(gb.status("exp_cta").as_deref(), Some("stopped"));
    // The same decision again is the one taken: nothing more is queued or sent.
    decide(
        &db.store,
        &key,
        alice(),
        "checkout-cta",
        ExperimentCall::Ship,
        None,
        "",
        later,
    )
    .await
    .unwrap();
    outbox::sync(&db.store, &appliers(true), &key, later + 60)
        .await
        .unwrap();
    assert_eq!(gb.stops().len(), 2);
    assert_eq!(db.store.actions().await.unwrap().len(), 1);

    // A stop whose answer is lost (GrowthBook stopped it, then the answer failed): the next
    // pass looks first, finds it stopped, and does not stop it again.
    gb.push_fault(GbFault::AfterApply(502));
    decide(
        &db.store,
        &key,
        alice(),
        "exp_three",
        ExperimentCall::Stop,
        None,
        "",
        later,
    )
    .await
    .unwrap();
    let lost = outbox::sync(&db.store, &appliers(true), &key, later)
        .await
        .unwrap();
    assert_eq!(lost.retrying, 1, "{lost:?}");
    let found = outbox::sync(&db.store, &appliers(true), &key, later + 7_200)
        .await
        .unwrap();
    assert_eq!(found.confirmed, 1, "{found:?}");
    let stops = gb.stops();
    assert_eq!(stops.len(), 3, "{stops:?}");
    assert_eq!(stops[2].experiment, "exp_three");
    assert_eq!(
        stops[2].released_variation, None,
        "a stop rolls nothing out"
    );
    assert_eq!(stops[2].results, "inconclusive");
    let actions = db.store.actions().await.unwrap();
    assert!(
        actions.iter().all(|a| a.state == ActionState::Applied),
        "{actions:?}"
    );

    // Every outcome is in the signed audit log.
    let audit = db.store.audit_entries().await.unwrap();
    let mut sent: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "experiment_stop applied")
        .map(|e| e.target.as_str())
        .collect();
    sent.sort();
    assert_eq!(sent, ["growthbook:checkout-cta", "growthbook:exp_three"]);

    // Iterate: nothing is queued for GrowthBook.
    gb.put_experiment({
        let mut e = Experiment::new("exp_it", "iterate-me", "Iterate", &[("a", "A"), ("b", "B")]);
        e.goals = vec!["met_checkout".into()];
        e
    });
    gb.set_results(
        "exp_it",
        "s",
        vec![(
            "met_checkout".into(),
            vec![Cell::binomial(100.0, 10.0), Cell::binomial(100.0, 11.0)],
        )],
    );
    growthbook::sync(&api(&url, KEY), &db.store).await.unwrap();
    decide(
        &db.store,
        &key,
        alice(),
        "iterate-me",
        ExperimentCall::Iterate,
        None,
        "",
        later,
    )
    .await
    .unwrap();
    assert_eq!(db.store.actions().await.unwrap().len(), 2);

    // A decision an instance recorded but stopped before queuing (a crash in between): the
    // sender's sweep queues it, once.
    db.store
        .decide_experiment(
            "broken",
            &flightdeck_core::model::ExperimentDecided {
                call: ExperimentCall::Stop,
                variation: None,
                by: "Bob".into(),
                at: later,
                reason: None,
            },
        )
        .await
        .unwrap();
    use flightdeck_core::domain::experiments::queue_unsent;
    assert_eq!(queue_unsent(&db.store, later).await.unwrap(), 1);
    assert_eq!(queue_unsent(&db.store, later).await.unwrap(), 0);
    let swept = db
        .store
        .action("experiment:broken:stop")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(swept.target, "growthbook:broken");
    assert_eq!(swept.actor, "Bob");
}

both!(history_comes_from_snapshots_and_the_date_dimension);
/// Cumulative lift over time from GrowthBook: a snapshot is one day of history (the day it
/// was updated); results by the date of first exposure, once GrowthBook has them, give the
/// days before it, each the running total of the days up to it, and leave the days earlier
/// syncs recorded. A date breakdown's day that is not before the snapshot's is the snapshot's.
async fn history_comes_from_snapshots_and_the_date_dimension(db: TestDb) {
    let gb = GrowthBook::new(KEY);
    workspace(&gb);
    let url = serve(&gb).await;
    let api = api(&url, KEY);
    growthbook::sync(&api, &db.store).await.unwrap();
    let h = db.store.experiment_history("checkout-cta").await.unwrap();
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].day, "2026-01-01", "the snapshot's dateUpdated");
    assert_eq!(h[0].sums.len(), 4, "two metrics × two variations");

    let day = |users: [f64; 2], converted: [f64; 2]| {
        vec![
            (
                "met_checkout".to_string(),
                vec![
                    Cell::binomial(users[0], converted[0]),
                    Cell::binomial(users[1], converted[1]),
                ],
            ),
            (
                "fact__latency".to_string(),
                vec![
                    Cell::mean(users[0], 300.0, 80.0),
                    Cell::mean(users[1], 320.0, 90.0),
                ],
            ),
        ]
    };
    gb.set_results_by_date(
        "exp_cta",
        vec![
            // Out of order, as nothing promises otherwise.
            ("2026-09-02".into(), day([500.0, 520.0], [40.0, 70.0])),
            ("2026-09-03".into(), day([5.0, 5.0], [1.0, 1.0])),
            ("2026-09-01".into(), day([1_000.0, 990.0], [100.0, 130.0])),
        ],
    );
    gb.set_results("exp_cta", "snp_9", day([1_500.0, 1_510.0], [140.0, 200.0]));
    gb.touch("exp_cta", "2026-09-03T08:00:00.000Z");
    let s = growthbook::sync(&api, &db.store).await.unwrap();
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let h = db.store.experiment_history("checkout-cta").await.unwrap();
    let days: Vec<&str> = h.iter().map(|p| p.day.as_str()).collect();
    assert_eq!(
        days,
        ["2026-01-01", "2026-09-01", "2026-09-02", "2026-09-03"],
        "the first sync's day, the days by date, the snapshot's day"
    );
    let cell = |p: usize, metric: &str, v: &str| {
        h[p].sums
            .iter()
            .find(|s| s.metric == metric && s.variation == v)
            .cloned()
            .unwrap()
    };
    let t = cell(2, "Checkout conversion", "Buy now");
    assert_eq!((t.n, t.sum), (1_510.0, 200.0));
    assert_eq!(cell(1, "Checkout conversion", "Buy now").n, 990.0);
    // The snapshot's day holds the snapshot's totals, not the breakdown's 1,515.
    assert_eq!(cell(3, "Checkout conversion", "Buy now").n, 1_510.0);
    // Means add up exactly: Σx and Σx² over both days.
    let l = cell(2, "Page latency (ms)", "Buy now");
    assert!((l.sum - 1_510.0 * 320.0).abs() < 1e-6, "{l:?}");
    let var = (l.sum_squares - l.sum * l.sum / l.n) / (l.n - 1.0);
    let want = ((989.0 + 519.0) * 8_100.0) / 1_509.0;
    assert!((var - want).abs() < 1e-6, "{var} vs {want}");
    let series = flightdeck_core::domain::experiments::cumulative(&db.store, "checkout-cta")
        .await
        .unwrap()
        .unwrap()
        .1;
    let conv = series
        .iter()
        .find(|s| s.metric == "Checkout conversion")
        .unwrap();
    assert_eq!(conv.points.len(), 4);
    let first = conv.points[1].lift.unwrap().estimate;
    assert!(
        (first - (130.0 / 990.0 / 0.1 - 1.0)).abs() < 1e-9,
        "{first}"
    );
}
