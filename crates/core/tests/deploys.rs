//! Deploys on a real repository with a merge, a cherry-pick, an unmerged branch and a revert,
//! at fixed times: what each deploy shipped is exact (from the commit graph, not a time
//! window), also when deploys are recorded out of order; and the DORA keys over it equal the
//! values worked out by hand (in the comments) for each definition.

mod support;

use flightdeck_core::domain::deploys::{self, Record};
use flightdeck_core::domain::incidents::{self, IncidentRecord};
use flightdeck_core::domain::ingest::{self, Sources};
use flightdeck_core::metrics::dora::{self, DoraConfig};
use flightdeck_core::model::Incident;
use git2::{Oid, Repository, Signature, Time};
use support::{both, TestDb};

/// Midnight UTC, so the deploy days are easy to count.
const T0: i64 = 1_790_035_200;
/// When the test's deploys and incidents are reported: after all of them happened.
const LATER: i64 = T0 + 40 * H;
const H: i64 = 3_600;

fn commit_at(r: &Repository, branch: &str, parents: &[Oid], msg: &str, t: i64) -> Oid {
    let base = parents
        .first()
        .map(|p| r.find_commit(*p).unwrap().tree().unwrap());
    let mut tb = r.treebuilder(base.as_ref()).unwrap();
    let blob = r.blob(msg.as_bytes()).unwrap();
    let file = format!("f{t}.txt");
    tb.insert(file.as_str(), blob, 0o100644).unwrap();
    let tree = r.find_tree(tb.write().unwrap()).unwrap();
    let sig = Signature::new("Alice", "alice@acme.dev", &Time::new(t, 0)).unwrap();
    let ps: Vec<git2::Commit> = parents.iter().map(|p| r.find_commit(*p).unwrap()).collect();
    let refs: Vec<&git2::Commit> = ps.iter().collect();
    r.commit(
        Some(&format!("refs/heads/{branch}")),
        &sig,
        &sig,
        msg,
        &tree,
        &refs,
    )
    .unwrap()
}

const AGENT: &str = "\n\nCo-Authored-By: Claude <noreply@anthropic.com>";

async fn deploys_ship_exactly_and_dora_matches_hand_counts(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api");
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let r = Repository::init_opts(&path, &init).unwrap();
    let path = path.canonicalize().unwrap();
    let c1 = commit_at(&r, "main", &[], "Initial", T0);
    let c2 = commit_at(&r, "main", &[c1], "Add api", T0 + H);
    let f1 = commit_at(
        &r,
        "feature",
        &[c2],
        &format!("Feature part 1{AGENT}"),
        T0 + 3 * H,
    );
    let f2 = commit_at(
        &r,
        "feature",
        &[f1],
        &format!("Feature part 2{AGENT}"),
        T0 + 4 * H,
    );
    let h1 = commit_at(&r, "typo", &[c2], "Fix typo", T0 + 3 * H + H / 2);
    // The fix cherry-picked onto main: another commit, the one that ships.
    let h1p = commit_at(&r, "main", &[c2], "Fix typo", T0 + 5 * H);
    let m = commit_at(&r, "main", &[h1p, f2], "Merge branch 'feature'", T0 + 6 * H);
    // Made between the deploys, never merged: a time window would put it in the second deploy.
    let x = commit_at(
        &r,
        "spike",
        &[c2],
        "Late unrelated spike",
        T0 + 6 * H + H / 2,
    );
    let c3 = commit_at(&r, "main", &[m], "Break things", T0 + 7 * H + H / 2);
    let c4 = commit_at(
        &r,
        "main",
        &[c3],
        "Revert \"Break things\"",
        T0 + 8 * H + H / 2,
    );
    let c5 = commit_at(
        &r,
        "main",
        &[c4],
        &format!("Add metrics{AGENT}"),
        T0 + 29 * H,
    );
    let c6 = commit_at(
        &r,
        "main",
        &[c5],
        "hotfix: metrics crash",
        T0 + 30 * H + H / 2,
    );
    let sources = Sources {
        repos: vec![path.clone()],
        ..Default::default()
    };
    ingest::run(&db.store, &sources, None, T0 + 40 * H)
        .await
        .unwrap();

    let repo = support::repo_id(&path);
    let rec = |id: &str, env: &str, sha: Oid, status: &str, at: i64| Record {
        repo: Some(repo.clone()),
        environment: env.into(),
        sha: sha.to_string(),
        status: status.into(),
        at: Some(at),
        id: Some(id.into()),
    };
    let record = |r: Record| {
        let store = db.store.clone();
        async move { deploys::record(&store, &r, "test", LATER).await.unwrap() }
    };
    // D2 arrives before D1 (out of order): D1's arrival corrects what D2 shipped.
    record(rec("D2", "production", m, "success", T0 + 7 * H)).await;
    record(rec("D1", "production", c2, "success", T0 + 2 * H)).await;
    record(rec("S1", "staging", m, "success", T0 + 6 * H + 48 * 60)).await;
    record(rec("D3", "production", c3, "failure", T0 + 8 * H)).await;
    record(rec("D4", "production", c4, "success", T0 + 9 * H)).await;
    record(rec("D5", "production", c5, "success", T0 + 30 * H)).await;
    record(rec("D6", "production", c6, "success", T0 + 31 * H)).await;

    let shipped = |id: &str| {
        let store = db.store.clone();
        let id = id.to_string();
        async move {
            let mut v: Vec<String> = store
                .deploy_commits(None)
                .await
                .unwrap()
                .into_iter()
                .filter(|(d, _)| *d == id)
                .map(|(_, s)| s)
                .collect();
            v.sort();
            v
        }
    };
    let set = |oids: &[Oid]| {
        let mut v: Vec<String> = oids.iter().map(|o| o.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        shipped("D1").await,
        set(&[c1, c2]),
        "the first deploy: all history"
    );
    // The merge brings its branch; the cherry-pick is the commit deployed; the unmerged fix and
    // the spike made meanwhile are not in it.
    assert_eq!(shipped("D2").await, set(&[h1p, f1, f2, m]));
    assert!(!shipped("D2").await.contains(&h1.to_string()));
    assert!(!shipped("D2").await.contains(&x.to_string()));
    assert_eq!(shipped("D3").await, set(&[c3]));
    // Measured against the last success (D2), not the failed D3.
    assert_eq!(shipped("D4").await, set(&[c3, c4]));
    // Staging is its own line of deploys.
    assert_eq!(shipped("S1").await, set(&[c1, c2, h1p, f1, f2, m]));
    let detail = deploys::detail(&db.store, "D2", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.previous.unwrap().id, "D1");
    assert_eq!(detail.commits.len(), 4);
    assert_eq!(
        detail.commits.iter().filter(|c| c.agent.is_some()).count(),
        2,
        "f1 and f2 are the agent's"
    );
    assert_eq!(
        detail.deployment.contents,
        flightdeck_core::model::Contents::Exact
    );

    let d = dora::dora(&db.store, None, T0, T0 + 7 * 24 * H, &DoraConfig::default())
        .await
        .unwrap();
    // Successful production deploys: D1, D2, D4, D5, D6 in one week, on two UTC days.
    assert_eq!(d.deploys, 5);
    assert!((d.deploys_per_week - 5.0).abs() < 1e-9);
    assert_eq!(d.deploy_days, 2);
    // Failed: D3 (status) and D5 (D6 ships a hotfix within 24 h) of six finished.
    assert_eq!((d.failed_deploys, d.incidents), (2, 1));
    assert!((d.change_failure_rate.unwrap() - 2.0 / 6.0).abs() < 1e-9);
    // Restored: D3 → D4 one hour, D5 → D6 one hour.
    assert_eq!(d.time_to_restore.count, 2);
    assert_eq!(d.time_to_restore.median_secs, Some(H));
    // Lead times (commit → first successful deploy holding it), in hours: c1 2, c2 1, h1' 2,
    // f1 4, f2 3, m 1, c3 1.5, c4 0.5, c5 1, c6 0.5. Sorted: .5 .5 1 1 1 1.5 2 2 3 4.
    assert_eq!(d.lead_time.count, 10);
    assert_eq!(d.lead_time.median_secs, Some(H), "rank 5 of 10");
    assert_eq!(d.lead_time.p90_secs, Some(3 * H), "rank 9 of 10");
    // Agents: f1 4, f2 3, c5 1 → median 3 (rank 2 of 3), p90 4 (rank 3).
    assert_eq!(d.lead_time_agent.count, 3);
    assert_eq!(d.lead_time_agent.median_secs, Some(3 * H));
    assert_eq!(d.lead_time_agent.p90_secs, Some(4 * H));
    // People: .5 .5 1 1 1.5 2 2 → median 1 (rank 4 of 7), p90 2 (rank 7).
    assert_eq!(d.lead_time_human.count, 7);
    assert_eq!(d.lead_time_human.median_secs, Some(H));
    assert_eq!(d.lead_time_human.p90_secs, Some(2 * H));
    assert_eq!(d.commits_shipped, 10);
    assert!((d.agent_share.unwrap() - 0.3).abs() < 1e-9);
    // The same lead times binned: agents f1 4 h (4–24 h), f2 3 h and c5 1 h (1–4 h); people
    // c4 and c6 half an hour (< 1 h), c1, c2, h1', m, c3 (1–4 h).
    let bins = dora::lead_time_distribution(&db.store, None, T0, T0 + 7 * 24 * H, "production")
        .await
        .unwrap();
    let counts: Vec<(&str, i64, i64)> = bins
        .iter()
        .map(|b| (b.label.as_str(), b.agent, b.human))
        .collect();
    assert_eq!(
        counts,
        [
            ("< 1 h", 0, 2),
            ("1–4 h", 2, 5),
            ("4–24 h", 1, 0),
            ("1–3 d", 0, 0),
            ("3–7 d", 0, 0),
            ("≥ 7 d", 0, 0)
        ]
    );

    // A shorter incident window: D6 comes an hour after D5, so a 30-minute window finds no
    // incident; only D3 failed.
    let narrow = DoraConfig {
        incident_window_secs: 30 * 60,
        ..Default::default()
    };
    let d = dora::dora(&db.store, None, T0, T0 + 7 * 24 * H, &narrow)
        .await
        .unwrap();
    assert_eq!((d.failed_deploys, d.incidents), (1, 0));
    assert!((d.change_failure_rate.unwrap() - 1.0 / 6.0).abs() < 1e-9);
    // The first day only: D1, D2, D4 succeeded; D3 failed.
    let d = dora::dora(&db.store, None, T0, T0 + 24 * H, &DoraConfig::default())
        .await
        .unwrap();
    assert_eq!((d.deploys, d.deploy_days, d.failed_deploys), (3, 1, 1));
    assert_eq!(d.lead_time.count, 8);

    // Incident issues, each pinned on the last good production deploy before it opened.
    let incident = |n: u32, opened: i64, closed: Option<i64>| Incident {
        id: format!("github:acme/api#{n}"),
        repo: repo.clone(),
        title: format!("Outage {n}"),
        url: String::new(),
        opened_at: opened,
        closed_at: closed,
    };
    let m = 60;
    for i in [
        // After D2 (T0+7h): D2 now failed too; restored 45 minutes later.
        incident(1, T0 + 7 * H + 30 * m, Some(T0 + 8 * H + 15 * m)),
        // D2 again, still open: counted, but D2's restore is its first incident's.
        incident(2, T0 + 7 * H + 50 * m, None),
        // After D5, already failed by the hotfix: not a second failure, but its restore is
        // the incident's two hours, not the hour to D6.
        incident(3, T0 + 30 * H + 10 * m, Some(T0 + 32 * H + 10 * m)),
        // Before any production deploy: nothing to pin it on.
        incident(4, T0 + H, Some(T0 + 2 * H)),
    ] {
        db.store.upsert_incident(&i).await.unwrap();
    }
    let d = dora::dora(&db.store, None, T0, T0 + 7 * 24 * H, &DoraConfig::default())
        .await
        .unwrap();
    // Failed: D3 (status), D5 (hotfix), D2 (incident) of six finished.
    assert_eq!(
        (d.failed_deploys, d.incidents, d.incident_issues),
        (3, 1, 3)
    );
    assert!((d.change_failure_rate.unwrap() - 0.5).abs() < 1e-9);
    // Restore: D2 45 min (incident 1), D3 → D4 1 h, D5 2 h (incident 3). Median rank 2 of 3.
    assert_eq!(d.time_to_restore.count, 3);
    assert_eq!(d.time_to_restore.median_secs, Some(H));
    assert_eq!(d.time_to_restore.p90_secs, Some(2 * H));
    // The narrow window finds no hotfix, but incident 3 still fails D5.
    let d = dora::dora(&db.store, None, T0, T0 + 7 * 24 * H, &narrow)
        .await
        .unwrap();
    assert_eq!(
        (d.failed_deploys, d.incidents, d.incident_issues),
        (3, 0, 3)
    );
    // The first day: D2's two incidents, not D5's.
    let d = dora::dora(&db.store, None, T0, T0 + 24 * H, &DoraConfig::default())
        .await
        .unwrap();
    assert_eq!((d.failed_deploys, d.incident_issues), (2, 2));
    assert_eq!(d.time_to_restore.median_secs, Some(45 * m));
    // Another repo's report does not see them.
    let d = dora::dora(
        &db.store,
        Some("/elsewhere"),
        T0,
        T0 + 7 * 24 * H,
        &DoraConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!((d.failed_deploys, d.incident_issues), (0, 0));

    // An incident from a pager, half an hour after D6, then resolved by a second report with
    // its id (the open time kept): D6 fails too, restored in 30 minutes.
    let page = |opened: Option<i64>, closed: Option<i64>| IncidentRecord {
        repo: Some(repo.clone()),
        title: "Pager: 5xx on /api".into(),
        opened,
        closed,
        id: Some("PD-1".into()),
        ..Default::default()
    };
    let paged = incidents::record(&db.store, &page(Some(T0 + 31 * H + 5 * m), None), LATER)
        .await
        .unwrap();
    assert_eq!((paged.id.as_str(), paged.closed_at), ("ext:PD-1", None));
    let resolved = incidents::record(&db.store, &page(None, Some(T0 + 31 * H + 35 * m)), LATER)
        .await
        .unwrap();
    assert_eq!(
        (resolved.opened_at, resolved.closed_at),
        (T0 + 31 * H + 5 * m, Some(T0 + 31 * H + 35 * m))
    );
    let d = dora::dora(&db.store, None, T0, T0 + 7 * 24 * H, &DoraConfig::default())
        .await
        .unwrap();
    assert_eq!((d.failed_deploys, d.incident_issues), (4, 4));
    // Restores: 30 min (D6), 45 min (D2), 1 h (D3), 2 h (D5): median rank 2, p90 rank 4.
    assert_eq!(d.time_to_restore.count, 4);
    assert_eq!(d.time_to_restore.median_secs, Some(45 * m));
    assert_eq!(d.time_to_restore.p90_secs, Some(2 * H));
    // Bad reports are refused by name.
    let err = incidents::record(&db.store, &page(Some(T0 + 40 * H), Some(T0)), LATER)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("closes"), "{err}");
    let untitled = IncidentRecord {
        title: " ".into(),
        ..page(None, None)
    };
    let err = incidents::record(&db.store, &untitled, LATER)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs a title"), "{err}");
    // Times no pager could mean: before 1970, or more than a day ahead of the clock.
    let err = incidents::record(&db.store, &page(Some(T0), Some(-5)), LATER)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`closed` is -5"), "{err}");
    let err = incidents::record(&db.store, &page(Some(LATER + 2 * 24 * H), None), LATER)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`opened` is"), "{err}");

    // Bad input is refused by name.
    let mut bad = rec("X", "production", c1, "shipped", T0);
    let err = deploys::record(&db.store, &bad, "test", T0)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("`shipped` is not a deploy status"),
        "{err}"
    );
    bad.status = "success".into();
    bad.sha = "nope".into();
    let err = deploys::record(&db.store, &bad, "test", T0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`nope` is not a commit"), "{err}");
    bad.sha = c1.to_string();
    bad.at = Some(i64::MIN);
    let err = deploys::record(&db.store, &bad, "test", LATER)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("a deploy's time is Unix seconds"),
        "{err}"
    );
    db.finish().await;
}
both!(deploys_ship_exactly_and_dora_matches_hand_counts);
