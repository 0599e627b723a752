//! Cycle time by phase on a fixed set of changes, reviews and deploys whose numbers are worked
//! out by hand in the comments; and the span percentiles behind it and DORA lead time checked
//! against a brute-force sort of the same values, for ragged ranges, one repo, and after edits.

mod support;

use flightdeck_core::domain::deploys;
use flightdeck_core::metrics::cycle;
use flightdeck_core::model::{
    Author, ChangeRequest, ChangeState, DeployStatus, Deployment, Review, ReviewState,
};
use flightdeck_core::store::spans::{self, Range, Span, Spread};
use support::{both, TestDb};

/// Midnight UTC, a Tuesday.
const T0: i64 = 1_790_035_200;
const H: i64 = 3_600;
const DAY: i64 = 86_400;
const REPO: &str = "/w/api";

fn change(
    id: &str,
    agent: bool,
    first: Option<i64>,
    opened: i64,
    merged: Option<i64>,
) -> ChangeRequest {
    let author = if agent {
        Author::Agent {
            agent: "claude-code".into(),
        }
    } else {
        Author::Human { name: "Bob".into() }
    };
    ChangeRequest {
        id: id.into(),
        title: id.into(),
        head: id.into(),
        state: if merged.is_some() {
            ChangeState::Merged
        } else {
            ChangeState::Open
        },
        merged_at: merged,
        first_commit_at: first,
        ..support::merged_change(REPO, id, &format!("sha-{id}"), author, opened)
    }
}

fn review(id: &str, key: &str, at: i64) -> Review {
    Review {
        action_key: key.into(),
        change_request: id.into(),
        head_sha: format!("sha-{id}"),
        reviewer: "ana".into(),
        state: ReviewState::Approved,
        body: String::new(),
        at,
    }
}

fn hours(s: &Spread) -> (i64, Option<i64>, Option<i64>) {
    (
        s.count,
        s.median_secs.map(|v| v / H),
        s.p90_secs.map(|v| v / H),
    )
}

async fn deploy(db: &TestDb, id: &str, env: &str, at: i64, ships: &[&str]) {
    db.store
        .upsert_deployment(&Deployment {
            id: id.into(),
            repo: REPO.into(),
            environment: env.into(),
            sha: format!("sha-{}", ships[0]),
            status: DeployStatus::Success,
            created_at: at,
            source: "test".into(),
            contents: flightdeck_core::model::Contents::Unknown,
        })
        .await
        .unwrap();
    let shas: Vec<String> = ships.iter().map(|s| format!("sha-{s}")).collect();
    db.store.set_deploy_commits(id, REPO, &shas).await.unwrap();
    deploys::measure(&db.store, REPO, env).await.unwrap();
}

async fn cycle_time_by_hand(db: TestDb) {
    // Hours after T0: first commit, opened, first review, merged, deployed to production.
    // a1 agent: 0, 1, 3, 5, 8   → coding 1, pickup 2, review 2, merge 4, deploy 3
    // a2 agent: 2, 2, -, 4, 8   → coding 0, merge 2, deploy 4 (no review: no pickup/review)
    // a3 agent: 1, 4, 10, 12, - → coding 3, pickup 6, review 2, merge 8
    // h1 human: 0, 6, 7, 9, 20  → coding 6, pickup 1, review 2, merge 3, deploy 11
    // h3 human: -, 1, (3 after the merge), 2 → merge 1 only
    // h2 human: open; a4 agent: merged two days before T0 (outside the range).
    let t = |h: i64| T0 + h * H;
    for c in [
        change("a1", true, Some(t(0)), t(1), Some(t(5))),
        change("a2", true, Some(t(2)), t(2), Some(t(4))),
        change("a3", true, Some(t(1)), t(4), Some(t(12))),
        change("h1", false, Some(t(0)), t(6), Some(t(9))),
        change("h3", false, None, t(1), Some(t(2))),
        change("h2", false, Some(t(0)), t(1), None),
        change("a4", true, Some(t(-60)), t(-50), Some(t(-48))),
    ] {
        db.store.upsert_change_request(&c).await.unwrap();
    }
    for r in [
        review("a1", "k1", t(3)),
        review("a1", "k1b", t(4)), // a later review: the first one counts
        review("a3", "k2", t(10)),
        review("h1", "k3", t(7)),
        review("h3", "k4", t(3)),
    ] {
        db.store.add_review(&r).await.unwrap();
    }
    deploy(&db, "s1", "staging", t(6), &["a1"]).await;
    deploy(&db, "p1", "production", t(8), &["a1", "a2"]).await;
    deploy(&db, "p2", "production", t(20), &["h1"]).await;
    flightdeck_core::store::cycle::measure(&db.store, REPO)
        .await
        .unwrap();

    let c = cycle::cycle_time(&db.store, None, T0, T0 + 7 * DAY, "production")
        .await
        .unwrap();
    let phase = |name: &str| c.phases.iter().find(|p| p.name == name).unwrap().clone();
    // coding: all 0 1 3 6 → median rank 2 = 1, p90 rank 4 = 6; agents 0 1 3; people 6.
    let p = phase("coding");
    assert_eq!(hours(&p.all), (4, Some(1), Some(6)));
    assert_eq!(hours(&p.agent), (3, Some(1), Some(3)));
    assert_eq!(hours(&p.human), (1, Some(6), Some(6)));
    // pickup: 1 2 6 → median 2, p90 6; agents 2 6 → rank 1 = 2, rank 2 = 6.
    let p = phase("pickup");
    assert_eq!(hours(&p.all), (3, Some(2), Some(6)));
    assert_eq!(hours(&p.agent), (2, Some(2), Some(6)));
    assert_eq!(hours(&p.human), (1, Some(1), Some(1)));
    assert_eq!(hours(&phase("review").all), (3, Some(2), Some(2)));
    // time to merge: 1 2 3 4 8 → median 3, p90 8; agents 2 4 8; people 1 3.
    let p = phase("merge");
    assert_eq!(hours(&p.all), (5, Some(3), Some(8)));
    assert_eq!(hours(&p.agent), (3, Some(4), Some(8)));
    assert_eq!(hours(&p.human), (2, Some(1), Some(3)));
    // deploy to production (staging's earlier deploy of a1 does not count): 3 4 11.
    let p = phase("deploy");
    assert_eq!(hours(&p.all), (3, Some(4), Some(11)));
    assert_eq!(hours(&p.agent), (2, Some(3), Some(4)));
    assert_eq!(hours(&p.human), (1, Some(11), Some(11)));
    // Staging is its own deploy phase: a1 only, 1 hour after its merge.
    let s = cycle::cycle_time(&db.store, None, T0, T0 + 7 * DAY, "staging")
        .await
        .unwrap();
    let p = s.phases.iter().find(|p| p.name == "deploy").unwrap();
    assert_eq!(hours(&p.all), (1, Some(1), Some(1)));
    // Throughput: all five merges fall in the week of Monday T0 - 1 day; the next week is 0.
    let weeks: Vec<(String, i64, i64)> = c
        .throughput
        .iter()
        .map(|w| (w.week.clone(), w.agent, w.human))
        .collect();
    assert_eq!(
        weeks,
        vec![
            (flightdeck_core::model::days::of(T0 - DAY), 3, 2),
            (flightdeck_core::model::days::of(T0 + 6 * DAY), 0, 0),
        ]
    );
    // One repo gives the same; another none.
    let one = cycle::cycle_time(&db.store, Some(REPO), T0, T0 + 7 * DAY, "production")
        .await
        .unwrap();
    assert_eq!(one.phases, c.phases);
    let none = cycle::cycle_time(&db.store, Some("/w/other"), T0, T0 + 7 * DAY, "production")
        .await
        .unwrap();
    assert!(none.phases.iter().all(|p| p.all.count == 0));

    // A review of a2 before its merge (hour 3) gives it pickup 1 and review 1: measured again,
    // pickup is 1 1 2 6 → median rank 2 = 1.
    db.store
        .add_review(&review("a2", "k5", t(3)))
        .await
        .unwrap();
    flightdeck_core::store::cycle::measure(&db.store, REPO)
        .await
        .unwrap();
    let c = cycle::cycle_time(&db.store, None, T0, T0 + 7 * DAY, "production")
        .await
        .unwrap();
    let p = c.phases.iter().find(|p| p.name == "pickup").unwrap();
    assert_eq!(hours(&p.all), (4, Some(1), Some(6)));

    // A squash merge: s1 (human, merged at hour 3) ships as a new commit, deployed at hour 30;
    // its head never ships. Its deploy phase follows the merge commit: 27 hours. People's
    // deploy phases are now 11 and 27.
    db.store
        .upsert_change_request(&change("s1", false, None, t(1), Some(t(3))))
        .await
        .unwrap();
    db.store
        .set_merge_sha("s1", "sha-s1-squashed")
        .await
        .unwrap();
    deploy(&db, "p3", "production", t(30), &["s1-squashed"]).await;
    flightdeck_core::store::cycle::measure(&db.store, REPO)
        .await
        .unwrap();
    let c = cycle::cycle_time(&db.store, None, T0, T0 + 7 * DAY, "production")
        .await
        .unwrap();
    let p = c.phases.iter().find(|p| p.name == "deploy").unwrap();
    assert_eq!(hours(&p.human), (2, Some(11), Some(27)));
    assert_eq!(hours(&p.all), (4, Some(4), Some(27)));
    db.finish().await;
}
both!(cycle_time_by_hand);

/// A small deterministic generator (no dependency needed for test data).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n) as i64
    }
}

fn make(rng: &mut Lcg, repo: &str, n: usize) -> Vec<Span> {
    (0..n)
        .map(|i| {
            // Durations from seconds to months, so many buckets are used.
            let secs = rng.next(10) * 10i64.pow(rng.next(7) as u32) + rng.next(1_000);
            Span {
                metric: "lead".into(),
                scope: "production".into(),
                repo: repo.into(),
                item: format!("{repo}-{i}"),
                at: T0 + rng.next(20 * DAY as u64),
                agent: rng.next(3) == 0,
                secs,
            }
        })
        .collect()
}

async fn spans_match_a_full_sort(db: TestDb) {
    let mut rng = Lcg(7);
    let mut all = [make(&mut rng, "r0", 1_500), make(&mut rng, "r1", 700)];
    for (repo, s) in [("r0", &all[0]), ("r1", &all[1])] {
        spans::replace(&db.store, repo, &["lead"], Some("production"), s.clone())
            .await
            .unwrap();
    }
    let ranges: Vec<(i64, i64, Option<&str>)> = vec![
        (T0, T0 + 20 * DAY, None),              // whole days
        (T0 + 5_000, T0 + 9 * DAY + 77, None),  // ragged ends
        (T0 + DAY + 1, T0 + DAY + 2 * H, None), // inside one day
        (T0 - DAY, T0 + 30 * DAY, Some("r1")),
        (T0 + 3 * DAY + 11, T0 + 12 * DAY, Some("r0")),
        (T0 + 4 * DAY, T0 + 4 * DAY, None),      // empty
        (T0 + DAY + 5, T0 + 19 * DAY + 7, None), // a 16-day block, whole days and seconds
    ];
    for round in 0..2 {
        for (since, until, repo) in &ranges {
            let r = Range {
                metric: "lead",
                scope: "production",
                repo: *repo,
                since: *since,
                until: *until,
            };
            let got = spans::split(&db.store, r).await.unwrap();
            let pick = |agent: Option<bool>| {
                Spread::of(
                    all.iter()
                        .flatten()
                        .filter(|s| repo.is_none_or(|r| s.repo == r))
                        .filter(|s| s.at >= *since && s.at < *until)
                        .filter(|s| agent.is_none_or(|a| s.agent == a))
                        .map(|s| s.secs)
                        .collect(),
                )
            };
            let want = (pick(None), pick(Some(true)), pick(Some(false)));
            assert_eq!(got, want, "round {round}, range {since}..{until} {repo:?}");
        }
        // Edit r0: change a third of the durations, drop some, add some; the day counts must
        // follow.
        let r0 = &mut all[0];
        for (i, s) in r0.iter_mut().enumerate() {
            if i % 3 == 0 {
                s.secs = s.secs * 2 + 5;
            }
            if i % 7 == 0 {
                s.at += DAY;
            }
        }
        r0.retain(|s| !s.item.ends_with('5'));
        r0.extend(
            make(&mut Lcg(99), &format!("r0-new{round}"), 200)
                .into_iter()
                .map(|mut s| {
                    s.repo = "r0".into();
                    s
                }),
        );
        spans::replace(&db.store, "r0", &["lead"], Some("production"), r0.clone())
            .await
            .unwrap();
    }
    db.finish().await;
}
both!(spans_match_a_full_sort);
