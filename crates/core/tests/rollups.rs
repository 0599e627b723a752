//! The rollups the slow views read (commits per week, sessions per person and day) answer
//! exactly what summing the raw rows answers, for any window, after every kind of write that
//! changes those rows: upserts in batches, a diffstat learnt later, a rekey that drops a second
//! clone's copies, and log ingests that add days and grow sessions.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::model::Commit;
use flightdeck_core::store::Store;
use sqlx::Row;
use support::{both, TestDb};

const FIRST_MONDAY: i64 = 4 * 86_400;
const WEEK: i64 = 7 * 86_400;
const DAY: i64 = 86_400;
/// 2026-03-02, a Monday.
const T0: i64 = 1_772_409_600;

/// A small deterministic generator: the same "random" history on every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as i64
    }
}

fn commit(repo: &str, n: i64, at: i64, agent: bool, diff: Option<(i64, i64)>) -> Commit {
    Commit {
        repo: repo.into(),
        sha: format!("{n:040x}"),
        author_name: "Dev".into(),
        author_email: "dev@acme.dev".into(),
        authored_at: at,
        committed_at: at,
        summary: format!("change {n}"),
        agent: agent.then(|| "claude-code".into()),
        files_changed: diff.map(|_| 1),
        insertions: diff.map(|d| d.0),
        deletions: diff.map(|d| d.1),
    }
}

/// What summing the stored commits gives for `[from, to)`: (Monday, by agent) → (commits, lines).
async fn weeks_from_rows(store: &Store, from: i64, to: i64) -> BTreeMap<(i64, bool), (i64, i64)> {
    let rows = sqlx::query("SELECT committed_at, agent, insertions, deletions FROM commits")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let mut out: BTreeMap<(i64, bool), (i64, i64)> = BTreeMap::new();
    for r in rows {
        let at: i64 = r.get("committed_at");
        if at < from.max(FIRST_MONDAY) || at >= to {
            continue;
        }
        let monday = FIRST_MONDAY + (at - FIRST_MONDAY) / WEEK * WEEK;
        let agent = r.get::<Option<String>, _>("agent").is_some();
        let e = out.entry((monday, agent)).or_default();
        e.0 += 1;
        e.1 += r.get::<i64, _>("insertions") + r.get::<i64, _>("deletions");
    }
    out
}

async fn assert_weeks_match(store: &Store, windows: &[(i64, i64)], when: &str) {
    for &(from, to) in windows {
        let got: BTreeMap<(i64, bool), (i64, i64)> = store
            .commit_weeks(from, to)
            .await
            .unwrap()
            .into_iter()
            .map(|w| ((w.monday, w.agent), (w.commits, w.lines)))
            .collect();
        assert_eq!(
            got,
            weeks_from_rows(store, from, to).await,
            "{when}: window [{from}, {to})"
        );
    }
}

fn windows(rng: &mut Lcg) -> Vec<(i64, i64)> {
    let mut w = vec![
        (0, i64::MAX / 2),
        (T0, T0 + 4 * WEEK),
        (T0 + 1, T0 + 4 * WEEK - 1),
        (T0 + 3 * DAY, T0 + 5 * DAY),
        (T0 + WEEK, T0 + WEEK),
        (T0 + WEEK, T0),
        (0, FIRST_MONDAY + 1),
        (FIRST_MONDAY - 10, FIRST_MONDAY + 2 * WEEK),
        (i64::MAX - 10, i64::MAX),
        (i64::MIN, i64::MIN + 10),
    ];
    for _ in 0..40 {
        let a = T0 - 2 * WEEK + rng.next(14 * WEEK);
        w.push((a, a + rng.next(8 * WEEK)));
    }
    w
}

async fn weekly_commit_sums_equal_the_commits_they_sum(db: TestDb) {
    let mut rng = Lcg(17);
    let windows = windows(&mut rng);
    // Ten weeks of commits in uneven batches, some on week boundaries, some before week 0,
    // some with diffstats not yet known.
    let mut all = Vec::new();
    for n in 0..600 {
        let at = match n % 50 {
            0 => T0 + (n / 50) * WEEK,
            1 => T0 + (n / 50) * WEEK - 1,
            2 => FIRST_MONDAY - 1 - n,
            _ => T0 + rng.next(10 * WEEK),
        };
        let diff = (n % 7 != 0).then(|| (rng.next(500), rng.next(200)));
        all.push(commit("github.com/acme/api", n, at, n % 3 != 0, diff));
    }
    let mut rest = &all[..];
    while !rest.is_empty() {
        let k = (1 + rng.next(120) as usize).min(rest.len());
        db.store.upsert_commits(&rest[..k]).await.unwrap();
        rest = &rest[k..];
    }
    assert_weeks_match(&db.store, &windows, "after the first ingest").await;

    // The unknown diffstats learnt, and agents recognised later (a person's commit seen again
    // on an agent's branch): the same commits again.
    let again: Vec<Commit> = all
        .iter()
        .filter(|c| c.insertions.is_none() || c.agent.is_none())
        .map(|c| Commit {
            files_changed: Some(2),
            insertions: Some(40),
            deletions: Some(2),
            agent: Some("codex".into()),
            ..c.clone()
        })
        .collect();
    assert!(again.len() > 50);
    db.store.upsert_commits(&again).await.unwrap();
    assert_weeks_match(&db.store, &windows, "after diffstats were learnt").await;

    // A second clone, keyed by its path, brought a third of the same commits and some of its own;
    // carrying it over to the identity drops the copies, which must not stay counted.
    let copies: Vec<Commit> = all
        .iter()
        .step_by(3)
        .map(|c| Commit {
            repo: "/home/dev/api".into(),
            ..c.clone()
        })
        .chain((1000..1040).map(|n| commit("/home/dev/api", n, T0 + n * 3_600, true, None)))
        .collect();
    db.store.upsert_commits(&copies).await.unwrap();
    assert_weeks_match(&db.store, &windows, "with the second clone's copies").await;
    let done = db
        .store
        .rekey_repo("/home/dev/api", "github.com/acme/api", true, T0)
        .await
        .unwrap();
    assert!(done.merged >= 200, "copies dropped: {done:?}");
    assert_weeks_match(&db.store, &windows, "after the rekey").await;

    // A reopened store reads the same (the rollup is stored, not kept in memory).
    let again = Store::open(&db.url).await.unwrap();
    assert_weeks_match(&again, &windows, "after reopening").await;
    again.close().await;
    db.finish().await;
}
both!(weekly_commit_sums_equal_the_commits_they_sum);

/// Several machines ingesting into one database at once, all into the current week: each
/// rebuild of that week sees the others' commits, and none fails.
async fn concurrent_ingests_keep_the_weekly_sums(db: TestDb) {
    let mut writers = Vec::new();
    for m in 0..6i64 {
        let store = db.store.on_machine(&format!("laptop-{m}"));
        writers.push(tokio::spawn(async move {
            for round in 0..5i64 {
                let batch: Vec<Commit> = (0..20)
                    .map(|k| {
                        let n = m * 10_000 + round * 100 + k;
                        commit(
                            &format!("github.com/acme/r{m}"),
                            n,
                            T0 + DAY + n % 3_600,
                            k % 2 == 0,
                            Some((3, 1)),
                        )
                    })
                    .collect();
                store.upsert_commits(&batch).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let windows = [(T0, T0 + WEEK), (0, i64::MAX / 2)];
    assert_weeks_match(&db.store, &windows, "after concurrent ingests").await;
    let weeks = db.store.commit_weeks(T0, T0 + WEEK).await.unwrap();
    assert_eq!(weeks.iter().map(|w| w.commits).sum::<i64>(), 6 * 5 * 20);
    db.finish().await;
}
both!(concurrent_ingests_keep_the_weekly_sums);

/// Appends `n` requests of `session` to its log, one every `step` seconds from `from`; every
/// fourth request is written twice (a streaming snapshot, counted once).
fn log_requests(dir: &Path, session: &str, from: i64, step: i64, n: i64) {
    let project = dir.join("projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let path = project.join(format!("{session}.jsonl"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    let start = text.lines().count() as i64;
    for i in 0..n {
        let at = from + i * step;
        let stamp = chrono::DateTime::from_timestamp(at, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S.000Z");
        let line = serde_json::json!({
            "type": "assistant", "sessionId": session, "cwd": "/work/api",
            "timestamp": stamp.to_string(),
            "requestId": format!("req_{session}_{}", start + i),
            "message": {"id": format!("msg_{session}_{}", start + i), "model": "claude-sonnet-4-5",
                "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                "usage": {"input_tokens": 100, "output_tokens": 10}}
        })
        .to_string();
        text.push_str(&line);
        text.push('\n');
        if i % 4 == 0 {
            text.push_str(&line);
            text.push('\n');
        }
    }
    std::fs::write(path, text).unwrap();
}

/// What counting the usage records gives: person → sessions with counted usage in the window.
async fn sessions_from_rows(store: &Store, since: i64, until: i64) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT person, CAST(COUNT(*) AS BIGINT) FROM (
           SELECT DISTINCT person, agent, session_id FROM usage_entries
           WHERE canonical = 1 AND at >= $1 AND at < $2) s
         GROUP BY person ORDER BY person",
    )
    .bind(since)
    .bind(until)
    .fetch_all(store.pool())
    .await
    .unwrap()
}

async fn assert_sessions_match(store: &Store, windows: &[(i64, i64)], when: &str) {
    for &(since, until) in windows {
        assert_eq!(
            store.runs_by_person(since, until).await.unwrap(),
            sessions_from_rows(store, since, until).await,
            "{when}: window [{since}, {until})"
        );
    }
}

async fn sessions_per_person_equal_the_usage_they_count(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(5);
    let mut windows = vec![
        (0, i64::MAX / 2),
        (T0, T0 + DAY),
        (T0 + DAY / 2, T0 + DAY / 2 + 1),
        (T0 + 3 * DAY, T0 + 3 * DAY),
    ];
    for _ in 0..40 {
        let a = T0 - DAY + rng.next(12 * DAY);
        windows.push((a, a + rng.next(5 * DAY)));
    }
    // Two people's machines, sessions of a few minutes to three days, some crossing midnight.
    let people = ["Alice Martin", "Bob Chen"];
    let ingest_all = |now: i64| {
        let store = db.store.clone();
        let dir = dir.path().to_path_buf();
        async move {
            for who in people {
                let src = Sources {
                    claude_dirs: vec![dir.join(who.replace(' ', "-"))],
                    person: who.into(),
                    ..Default::default()
                };
                ingest::run(&store.on_machine(who), &src, None, now)
                    .await
                    .unwrap();
            }
        }
    };
    for s in 0..12 {
        let who = dir.path().join(people[s % 2].replace(' ', "-"));
        let from = T0 + rng.next(8 * DAY);
        log_requests(
            &who,
            &format!("s{s}"),
            from,
            60 + rng.next(7_200),
            1 + rng.next(30),
        );
    }
    ingest_all(T0 + 20 * DAY).await;
    let before = sessions_from_rows(&db.store, 0, i64::MAX / 2).await;
    assert!(
        before.len() == 2 && before.iter().all(|(_, n)| *n > 3),
        "{before:?}"
    );
    assert_sessions_match(&db.store, &windows, "after the first ingest").await;

    // Sessions resumed on later days, and a new one: the next ingest touches only those days.
    for s in [1usize, 4, 12] {
        let who = dir.path().join(people[s % 2].replace(' ', "-"));
        log_requests(&who, &format!("s{s}"), T0 + 9 * DAY + 3_000, 5_000, 20);
    }
    ingest_all(T0 + 21 * DAY).await;
    assert_sessions_match(&db.store, &windows, "after sessions grew").await;
    db.finish().await;
}
both!(sessions_per_person_equal_the_usage_they_count);
