//! An experiment tied to the work behind it, on a real repository: the change whose diff puts
//! the experiment's flag in code is linked (a longer name that only contains the flag is not),
//! with its agent run's cost, the deploy that shipped it and exposure that began before that
//! deploy; the search is incremental (nothing read again until a head or the keys move).

mod support;

use flightdeck_core::domain::deploys::{self, Record};
use flightdeck_core::domain::experiment_links::{has_word, link, work};
use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::model::{
    AgentRun, Experiment, ExperimentKey, ExperimentMetric, ExperimentState, MetricKind, MetricSums,
    RunState, Tokens, Variant,
};
use support::{both, commit_file, TestDb};

const NOW: i64 = 1_790_000_000;
const DAY: i64 = 86_400;
const AGENT: &str = "\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n";

#[test]
fn a_key_matches_as_a_whole_word() {
    assert!(has_word(r#"if flags.is_on("cta_copy") {"#, "cta_copy"));
    assert!(has_word("cta_copy", "cta_copy"));
    assert!(has_word("gb.feature('checkout-cta').on", "checkout-cta"));
    assert!(!has_word("cta_copy_v2", "cta_copy"));
    assert!(!has_word("old_cta_copy", "cta_copy"));
    assert!(!has_word("checkout-cta-2", "checkout-cta"));
    assert!(!has_word("anything", ""));
}

/// HEAD, index and work tree back on main (`commit_file` leaves its file in both).
fn back_to_main(r: &git2::Repository) {
    r.set_head("refs/heads/main").unwrap();
    r.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();
}

fn run_on(repo: &str, branch: &str, cost: f64) -> AgentRun {
    AgentRun {
        id: format!("claude-code:{branch}"),
        agent: "claude-code".into(),
        session_id: branch.into(),
        model: "claude-sonnet-4-5".into(),
        cwd: repo.into(),
        repo: Some(repo.into()),
        branch: Some(branch.into()),
        title: branch.into(),
        started_at: NOW - 9 * DAY,
        ended_at: NOW - 9 * DAY + 1_800,
        state: RunState::Finished,
        turns: 4,
        tool_calls: 9,
        errors: 0,
        files_touched: 2,
        models: vec!["claude-sonnet-4-5".into()],
        tokens: Tokens::default(),
        cost_usd: cost,
        source_path: format!("/logs/{branch}.jsonl"),
        skipped_lines: 0,
    }
}

fn binomial(metric: &str, variation: &str, n: f64, converted: f64) -> MetricSums {
    MetricSums {
        metric: metric.into(),
        variation: variation.into(),
        n,
        sum: converted,
        sum_squares: converted,
        denominator: None,
        pre: None,
    }
}

both!(an_experiment_shows_the_work_behind_it);
async fn an_experiment_shows_the_work_behind_it(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let r = git2::Repository::init_opts(&path, &init).unwrap();
    let path = path.canonicalize().unwrap();
    commit_file(
        &r,
        "main",
        "src/checkout.ts",
        "export const checkout = 1;\n",
        "Initial",
    );
    commit_file(
        &r,
        "claude/cta-copy",
        "src/checkout.ts",
        "export const checkout = 1;\nif (flags.isOn(\"cta_copy\")) { label = 'Buy now'; }\n",
        &format!("Try new checkout copy behind a flag{AGENT}"),
    );
    back_to_main(&r);
    commit_file(
        &r,
        "claude/unrelated",
        "src/other.ts",
        "const cta_copy_v2 = false;\n",
        &format!("Unrelated work{AGENT}"),
    );
    back_to_main(&r);
    let sources = Sources {
        repos: vec![path.clone()],
        ..Default::default()
    };
    ingest::run(&db.store, &sources, None, NOW).await.unwrap();
    let repo = support::repo_id(&path);
    db.store
        .upsert_agent_run(&run_on(&repo, "claude/cta-copy", 12.5))
        .await
        .unwrap();

    // The experiment, started 7 days ago, known in code by its flag.
    let e = Experiment {
        id: "cta".into(),
        name: "Checkout copy".into(),
        metric: "bought".into(),
        state: ExperimentState::Running,
        started_at: NOW - 7 * DAY,
        variants: vec![
            Variant {
                name: "control".into(),
                units: 20_000,
                conversions: 2_000,
                weight: None,
            },
            Variant {
                name: "treatment".into(),
                units: 20_000,
                conversions: 2_500,
                weight: None,
            },
        ],
    };
    let metric = ExperimentMetric {
        name: "bought".into(),
        kind: MetricKind::Binomial,
        guardrail: false,
        inverse: false,
    };
    db.store
        .replace_experiment(
            &e,
            &[metric],
            &[
                binomial("bought", "control", 20_000.0, 2_000.0),
                binomial("bought", "treatment", 20_000.0, 2_500.0),
            ],
            &Default::default(),
        )
        .await
        .unwrap();
    let key = |k: &str, kind: &str| ExperimentKey {
        key: k.into(),
        kind: kind.into(),
    };
    db.store
        .set_experiment_keys("cta", &[key("cta", "tracking"), key("cta_copy", "flag")])
        .await
        .unwrap();

    // The branch is merged (fast-forward) and shipped 5 days ago: after exposure began.
    let head = r
        .find_branch("claude/cta-copy", git2::BranchType::Local)
        .unwrap()
        .get()
        .target()
        .unwrap();
    r.reference("refs/heads/main", head, true, "merge").unwrap();
    back_to_main(&r);
    ingest::run(&db.store, &sources, None, NOW).await.unwrap();
    deploys::record(
        &db.store,
        &Record {
            repo: Some(repo.clone()),
            environment: "production".into(),
            sha: head.to_string(),
            status: "success".into(),
            at: Some(NOW - 5 * DAY),
            id: Some("D1".into()),
        },
        "test",
        NOW,
    )
    .await
    .unwrap();

    // A view reads what the searches found and searches nothing itself: nothing yet.
    use flightdeck_core::domain::experiment_links::{spawn_linker, work_of};
    use flightdeck_core::model::events::{Event, EventBus};
    let seen = work_of(&db.store, "cta", NOW).await.unwrap().unwrap();
    assert!(seen.changes.is_empty(), "{:?}", seen.changes);
    // The background search runs after a source's pass, and says when it read something.
    let bus = EventBus::new();
    let mut rx = bus.subscribe();
    let linker = spawn_linker(db.store.clone(), bus.clone(), bus.subscribe());
    bus.publish(Event::Changed {
        source: "ingest".into(),
        topics: vec!["changes".into()],
    });
    let (source, topics) = told(&mut rx).await;
    assert_eq!(source, "experiment links");
    assert!(topics.contains(&"experiments".to_string()), "{topics:?}");
    let seen = work_of(&db.store, "cta", NOW).await.unwrap().unwrap();
    assert_eq!(seen.changes.len(), 1, "{:?}", seen.changes);
    // A new key (the unrelated branch's `cta_copy_v2`) and a pass: searched again.
    let with_v2 = [
        key("cta", "tracking"),
        key("cta_copy", "flag"),
        key("cta_copy_v2", "flag"),
    ];
    db.store.set_experiment_keys("cta", &with_v2).await.unwrap();
    bus.publish(Event::Changed {
        source: "ingest".into(),
        topics: vec!["experiments".into()],
    });
    told(&mut rx).await;
    let seen = work_of(&db.store, "cta", NOW).await.unwrap().unwrap();
    assert_eq!(seen.changes.len(), 2, "{:?}", seen.changes);
    db.store
        .set_experiment_keys("cta", &[key("cta", "tracking"), key("cta_copy", "flag")])
        .await
        .unwrap();
    linker.abort();

    let card = flightdeck_core::domain::experiments::scorecard(&db.store, "cta", NOW)
        .await
        .unwrap()
        .unwrap();
    let w = work(&db.store, &card).await.unwrap();
    assert_eq!(w.keys, ["cta", "cta_copy"]);
    assert_eq!(w.changes.len(), 1, "{:?}", w.changes);
    let c = &w.changes[0];
    assert!(c.id.ends_with(":claude/cta-copy"), "{}", c.id);
    assert_eq!(
        (c.key.as_str(), c.path.as_str()),
        ("cta_copy", "src/checkout.ts")
    );
    assert_eq!(c.agent.as_deref(), Some("claude-code"));
    assert_eq!((c.runs, c.cost_usd), (1, 12.5));
    assert_eq!(c.deploys.len(), 1);
    assert_eq!(c.deploys[0].deployment, "D1");
    assert_eq!((w.runs, w.cost_usd), (1, 12.5));
    // +25 % on the primary metric: 12.5 USD / 25 points.
    let points = w.lift_points.unwrap();
    assert!((points - 25.0).abs() < 1e-9, "{points}");
    assert!((w.cost_per_lift_point.unwrap() - 0.5).abs() < 1e-9);
    assert_eq!(w.first_deploy_at, Some(NOW - 5 * DAY));
    let warning = w.exposure_warning.clone().unwrap();
    assert!(
        warning.contains("2 days before the first deploy"),
        "{warning}"
    );

    // Nothing moved: nothing is read again.
    let again = link(&db.store).await.unwrap();
    assert_eq!(again.searched, 0, "{again:?}");

    // The unrelated branch now uses the flag itself: only it is read again, and linked.
    support::tree_commit(
        &r,
        "claude/unrelated",
        &format!("Log the flag{AGENT}"),
        |r, tb| {
            let blob = r.blob(b"log(flags.value('cta_copy'));\n").unwrap();
            tb.insert("flags.ts", blob, 0o100644).unwrap();
        },
    );
    ingest::run(&db.store, &sources, None, NOW + 60)
        .await
        .unwrap();
    let moved = link(&db.store).await.unwrap();
    assert_eq!(moved.searched, 1, "{moved:?}");
    let w = work(&db.store, &card).await.unwrap();
    assert_eq!(w.changes.len(), 2);
    assert_eq!(w.changes[1].path, "flags.ts");
    assert!(
        w.changes[1].deploys.is_empty() && w.changes[1].runs == 0,
        "{:?}",
        w.changes[1]
    );

    // A new key: every change is searched for it.
    db.store
        .set_experiment_keys("other", &[key("nothing_uses_this", "flag")])
        .await
        .unwrap();
    let all = link(&db.store).await.unwrap();
    assert_eq!(all.searched, 2, "{all:?}");

    // A guardrail breaks: page latency (lower is better) up 10 % in the treatment. The inbox
    // says so, and a release holding the change that put the experiment in code carries it.
    let latency = |variation: &str, mean: f64| MetricSums {
        metric: "latency_ms".into(),
        variation: variation.into(),
        n: 20_000.0,
        sum: 20_000.0 * mean,
        sum_squares: 19_999.0 * 40.0 * 40.0 + 20_000.0 * mean * mean,
        denominator: None,
        pre: None,
    };
    db.store
        .replace_experiment(
            &e,
            &[
                ExperimentMetric {
                    name: "bought".into(),
                    kind: MetricKind::Binomial,
                    guardrail: false,
                    inverse: false,
                },
                ExperimentMetric {
                    name: "latency_ms".into(),
                    kind: MetricKind::Mean,
                    guardrail: true,
                    inverse: true,
                },
            ],
            &[
                binomial("bought", "control", 20_000.0, 2_000.0),
                binomial("bought", "treatment", 20_000.0, 2_500.0),
                latency("control", 300.0),
                latency("treatment", 330.0),
            ],
            &Default::default(),
        )
        .await
        .unwrap();
    let inbox = flightdeck_core::views::inbox_at(&db.store, NOW)
        .await
        .unwrap();
    let item = inbox
        .items
        .iter()
        .find(|i| i.id == "guardrail:cta:latency_ms:treatment")
        .expect("a guardrail item");
    assert_eq!(item.view, "experiments");
    assert!(
        item.detail.starts_with("latency_ms +10.0%"),
        "{}",
        item.detail
    );
    db.store
        .upsert_release(&flightdeck_core::model::Release {
            id: "R1".into(),
            repo: repo.clone(),
            environment: "canary".into(),
            name: "v2".into(),
            state: flightdeck_core::model::ReleaseState::Pending,
            created_at: NOW,
            approved_by: None,
            sha: Some(head.to_string()),
            run_id: None,
            decided_at: None,
            reason: None,
        })
        .await
        .unwrap();
    let detail = flightdeck_core::domain::releases::detail(&db.store, "R1")
        .await
        .unwrap();
    let cta = detail
        .changes
        .iter()
        .find(|c| c.id.ends_with(":claude/cta-copy"))
        .unwrap();
    assert!(
        cta.signals
            .iter()
            .any(|s| s.contains("ships experiment Checkout copy, whose guardrail is breached")),
        "{:?}",
        cta.signals
    );
    assert!(!detail.clear);

    // Decided (stopped): weighed, so no longer an alarm.
    let key =
        flightdeck_core::model::audit::AuditKey::load_or_create(&dir.path().join("key")).unwrap();
    let alice = flightdeck_core::domain::team::Person::named("Alice Lead");
    flightdeck_core::domain::experiments::decide(
        &db.store,
        &key,
        flightdeck_core::domain::team::Acting::alone(&alice),
        "cta",
        flightdeck_core::model::ExperimentCall::Stop,
        None,
        "",
        NOW,
    )
    .await
    .unwrap();
    let inbox = flightdeck_core::views::inbox_at(&db.store, NOW)
        .await
        .unwrap();
    assert!(!inbox.items.iter().any(|i| i.id.starts_with("guardrail:")));
}

/// A pull request is searched in the files its last sync kept, and only when they are of its
/// head: files of an older head (a push after the last file sync) are not searched, and the
/// change is searched again once they are current.
async fn a_pull_request_is_searched_at_its_head(db: TestDb) {
    use flightdeck_core::forge::diff::{store_files, DiffLine, FileDiff, Hunk};
    use flightdeck_core::model::{Author, ChangeKind, ChangeState};
    let pr = flightdeck_core::model::ChangeRequest {
        id: "github:acme/web#7".into(),
        kind: ChangeKind::Github,
        state: ChangeState::Open,
        ..support::merged_change(
            "github.com/acme/web",
            "claude/new-checkout",
            "bbbb",
            Author::Agent {
                agent: "claude-code".into(),
            },
            NOW - DAY,
        )
    };
    db.store.upsert_change_request(&pr).await.unwrap();
    db.store
        .set_experiment_keys(
            "cta",
            &[ExperimentKey {
                key: "new_checkout".into(),
                kind: "flag".into(),
            }],
        )
        .await
        .unwrap();
    let files = |text: &str| {
        vec![FileDiff {
            path: "web/checkout.tsx".into(),
            old_path: None,
            status: "modified".into(),
            binary: false,
            additions: 1,
            deletions: 0,
            hunks: vec![Hunk {
                header: "@@ -1,0 +1,1 @@".into(),
                lines: vec![DiffLine {
                    kind: "+".into(),
                    old: None,
                    new: Some(1),
                    text: text.into(),
                }],
            }],
            lines_omitted: 0,
        }]
    };
    // Files of the head before the last push, which did not have the flag yet.
    store_files(&db.store, &pr.id, "aaaa", NOW, &files("const x = 1;"))
        .await
        .unwrap();
    let stale = link(&db.store).await.unwrap();
    assert_eq!((stale.searched, stale.unreadable), (0, 1));
    // The next sync keeps the files of its head: searched, and linked.
    store_files(
        &db.store,
        &pr.id,
        "bbbb",
        NOW,
        &files("if (flags.isOn('new_checkout')) render(<New />);"),
    )
    .await
    .unwrap();
    let current = link(&db.store).await.unwrap();
    assert_eq!((current.searched, current.unreadable), (1, 0));
    let links = db.store.experiment_links("cta").await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].change_request, "github:acme/web#7");
    assert_eq!(links[0].path, "web/checkout.tsx");
}
both!(a_pull_request_is_searched_at_its_head);

/// The next event on `rx` from anything but an ingest (the linker's), within 30 s.
async fn told(
    rx: &mut tokio::sync::broadcast::Receiver<flightdeck_core::model::events::Event>,
) -> (String, Vec<String>) {
    use flightdeck_core::model::events::Event;
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            if let Ok(Event::Changed { source, topics }) = rx.recv().await {
                if source != "ingest" {
                    return (source, topics);
                }
            }
        }
    })
    .await
    .expect("the linker searched and said so")
}
