//! The audit log against tampering, on SQLite and PostgreSQL: an intact log verifies; an
//! edited, removed (in the middle or at the end), reordered, re-hashed or forged entry is each
//! found and named by its sequence number.

mod support;

use flightdeck_core::model::audit::{self, AuditKey, Decision};
use flightdeck_core::model::AuditEntry;
use support::{both, TestDb};

struct Log {
    key: AuditKey,
    _dir: tempfile::TempDir,
    entries: Vec<AuditEntry>,
}

async fn signed_log(db: &TestDb) -> Log {
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("audit-key")).unwrap();
    let mut entries = Vec::new();
    for (i, action) in ["approve", "merge", "approve-release", "override", "close"]
        .iter()
        .enumerate()
    {
        let target = format!("local:/w/app:claude/f{i}");
        let d = Decision {
            at: 1_790_000_000 + i as i64,
            actor: "lead",
            action,
            target: &target,
            detail: "ok",
        };
        let e = db.store.append_audit(&key, &d).await.unwrap();
        entries.push(e);
    }
    Log {
        key,
        _dir: dir,
        entries,
    }
}

/// Verifies what is in the store now, trusting the log's own key and checkpoint.
async fn check(db: &TestDb, log: &Log) -> audit::Verification {
    let entries = db.store.audit_entries().await.unwrap();
    audit::verify(
        &entries,
        &[log.key.public_hex()],
        &log.key
            .checkpoint(&db.store.target().identity())
            .into_iter()
            .collect::<Vec<_>>(),
    )
}

/// Puts the original entries back, for the next tamper.
async fn restore(db: &TestDb, log: &Log) {
    sqlx::query("DELETE FROM audit_entries")
        .execute(db.store.pool())
        .await
        .unwrap();
    for e in &log.entries {
        write_raw(db, e).await;
    }
    assert!(check(db, log).await.ok());
}

async fn write_raw(db: &TestDb, e: &AuditEntry) {
    sqlx::query(
        "INSERT INTO audit_entries
           (seq, at, actor, action, target, detail, prev_hash, hash, signer, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(e.seq)
    .bind(e.at)
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.target)
    .bind(&e.detail)
    .bind(&e.prev_hash)
    .bind(&e.hash)
    .bind(&e.signer)
    .bind(&e.signature)
    .execute(db.store.pool())
    .await
    .unwrap();
}

async fn exec(db: &TestDb, sql: &str) {
    sqlx::query(sql).execute(db.store.pool()).await.unwrap();
}

fn flagged(v: &audit::Verification, seq: i64, words: &str) -> bool {
    v.problems
        .iter()
        .any(|p| p.seq == seq && p.what.contains(words))
}

async fn every_tamper_is_found(db: TestDb) {
    let log = signed_log(&db).await;
    let v = check(&db, &log).await;
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.entries, 5);
    assert_eq!(
        v.signers
            .iter()
            .map(|s| (s.key.clone(), s.entries))
            .collect::<Vec<_>>(),
        vec![(log.key.public_hex(), 5)]
    );

    // Edit: the approval's detail is changed in place.
    exec(
        &db,
        "UPDATE audit_entries SET detail = 'overridden' WHERE seq = 2",
    )
    .await;
    let v = check(&db, &log).await;
    assert!(flagged(&v, 2, "was edited"), "{:?}", v.problems);
    restore(&db, &log).await;

    // Removal in the middle.
    exec(&db, "DELETE FROM audit_entries WHERE seq = 3").await;
    let v = check(&db, &log).await;
    assert!(flagged(&v, 4, "missing"), "{:?}", v.problems);
    assert!(flagged(&v, 4, "does not follow"), "{:?}", v.problems);
    restore(&db, &log).await;

    // Removal at the end: the chain that is left is valid; the checkpoint is not reached.
    exec(&db, "DELETE FROM audit_entries WHERE seq = 5").await;
    let v = check(&db, &log).await;
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert!(flagged(&v, 5, "truncated"), "{:?}", v.problems);
    restore(&db, &log).await;

    // Reorder: entries 2 and 3 swap places (their sequence numbers are exchanged).
    exec(&db, "UPDATE audit_entries SET seq = 100 WHERE seq = 2").await;
    exec(&db, "UPDATE audit_entries SET seq = 2 WHERE seq = 3").await;
    exec(&db, "UPDATE audit_entries SET seq = 3 WHERE seq = 100").await;
    let v = check(&db, &log).await;
    assert!(flagged(&v, 2, "does not follow"), "{:?}", v.problems);
    assert!(flagged(&v, 3, "was edited"), "{:?}", v.problems);
    restore(&db, &log).await;

    // Re-hash: the edit is hidden by recomputing the hash, but the signature is of the old one.
    let mut e = log.entries[1].clone();
    e.detail = "overridden".into();
    e.hash = audit::entry_hash(&e.prev_hash, e.seq, &e.decision());
    exec(&db, "DELETE FROM audit_entries WHERE seq = 2").await;
    write_raw(&db, &e).await;
    let v = check(&db, &log).await;
    assert!(flagged(&v, 2, "does not verify"), "{:?}", v.problems);
    assert!(flagged(&v, 3, "does not follow"), "{:?}", v.problems);
    restore(&db, &log).await;

    // Forgery: the whole chain rewritten from entry 2 and re-signed with another key; every
    // hash and signature checks out, but the key is not trusted and the checkpoint differs.
    let other_dir = tempfile::tempdir().unwrap();
    let forger = AuditKey::load_or_create(&other_dir.path().join("k")).unwrap();
    let mut prev = log.entries[0].hash.clone();
    exec(&db, "DELETE FROM audit_entries WHERE seq >= 2").await;
    for original in &log.entries[1..] {
        let mut e = original.clone();
        if e.seq == 2 {
            e.detail = "overridden".into();
        }
        e.prev_hash = prev.clone();
        e.hash = audit::entry_hash(&e.prev_hash, e.seq, &e.decision());
        e.signer = forger.public_hex();
        e.signature = forger.sign(&e.hash);
        prev = e.hash.clone();
        write_raw(&db, &e).await;
    }
    let v = check(&db, &log).await;
    for seq in 2..=5 {
        assert!(flagged(&v, seq, "not trusted"), "{:?}", v.problems);
    }
    assert!(flagged(&v, 5, "checkpoint"), "{:?}", v.problems);
    // Trusting the forger's key (a second lead) clears all but the checkpoint.
    let entries = db.store.audit_entries().await.unwrap();
    let v = audit::verify(&entries, &[log.key.public_hex(), forger.public_hex()], &[]);
    assert!(v.ok(), "{:?}", v.problems);
    db.finish().await;
}
both!(every_tamper_is_found);

#[test]
fn the_key_is_private_and_stable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/audit-key");
    let first = AuditKey::load_or_create(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = AuditKey::load_or_create(&path).unwrap();
    assert_eq!(first.public_hex(), again.public_hex());

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = AuditKey::load_or_create(&path).err().unwrap().to_string();
    assert!(
        err.contains(&path.display().to_string()) && err.contains("chmod 600"),
        "{err}"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, "not hex").unwrap();
    let err = AuditKey::load_or_create(&path).err().unwrap().to_string();
    assert!(err.contains("not a hex Ed25519 seed"), "{err}");
}

/// Dispatches finishing together (and a CLI beside the server) sign at the same moment: each
/// checkpoint write must land, and writers racing to make the key must end up with one key.
#[test]
fn concurrent_signers_share_one_key_and_every_checkpoint_lands() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit-key");
    let keys: Vec<String> = std::thread::scope(|s| {
        let makers: Vec<_> = (0..8)
            .map(|_| s.spawn(|| AuditKey::load_or_create(&path).map(|k| k.public_hex())))
            .collect();
        makers
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let on_disk = AuditKey::load_or_create(&path).unwrap().public_hex();
    assert!(keys.iter().all(|k| *k == on_disk), "{keys:?} vs {on_disk}");

    let key = AuditKey::load_or_create(&path).unwrap();
    std::thread::scope(|s| {
        for t in 0..8i64 {
            let key = &key;
            s.spawn(move || {
                // Each writer in its own order: the highest still wins.
                for n in 0..200 {
                    let seq = if t % 2 == 0 {
                        t * 1000 + n
                    } else {
                        t * 1000 + 199 - n
                    };
                    key.record("db", seq, &format!("h{seq}")).unwrap();
                }
            });
        }
    });
    assert_eq!(
        key.checkpoint("db"),
        Some(audit::Checkpoint {
            seq: 7199,
            hash: "h7199".into()
        })
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// The Audit view names each signer the team trusts, and leaves a key nobody added unnamed.
async fn the_audit_view_names_trusted_signers(db: TestDb) {
    use flightdeck_core::domain::trust;
    let log = signed_log(&db).await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = AuditKey::load_or_create(&other_dir.path().join("k")).unwrap();
    let view = flightdeck_core::views::audit(&db.store).await.unwrap();
    assert_eq!(view.integrity.signers[0].name, None);
    trust::add(
        &db.store,
        &other,
        &log.key.public_hex(),
        "Ana Lopez",
        "Bob",
        1_790_000_100,
    )
    .await
    .unwrap();
    let view = flightdeck_core::views::audit(&db.store).await.unwrap();
    let named: Vec<(Option<&str>, usize)> = view
        .integrity
        .signers
        .iter()
        .map(|s| (s.name.as_deref(), s.entries))
        .collect();
    // Ana's five decisions; Bob's key signed the trust entry and nobody named it.
    assert!(named.contains(&(Some("Ana Lopez"), 5)), "{named:?}");
    assert!(named.contains(&(None, 1)), "{named:?}");
    let keys = db.store.trusted_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].added_by, "Bob");

    // Trust comes from the signed log: Bob's entry makes Ana's key trusted for whoever trusts
    // Bob; a key written straight into the table is trusted by nobody.
    let mallory_dir = tempfile::tempdir().unwrap();
    let mallory = AuditKey::load_or_create(&mallory_dir.path().join("k")).unwrap();
    db.store
        .trust_key(&flightdeck_core::store::TrustedKey {
            key: mallory.public_hex(),
            name: "Totally Ana".into(),
            added_at: 1,
            added_by: "nobody".into(),
        })
        .await
        .unwrap();
    let entries = db.store.audit_entries().await.unwrap();
    let trusted = trust::trusted_through_log(&entries, &[other.public_hex()]);
    assert!(trusted.contains(&log.key.public_hex()));
    assert!(!trusted.contains(&mallory.public_hex()));
    assert_eq!(
        trust::trusted_through_log(&entries, &[mallory.public_hex()]),
        vec![mallory.public_hex()],
        "an untrusted key's own entries grant nothing"
    );
    // Removed by a trusted key: no longer trusted from then on.
    trust::remove(
        &db.store,
        &other,
        &log.key.public_hex(),
        "Bob",
        1_790_000_200,
    )
    .await
    .unwrap();
    let entries = db.store.audit_entries().await.unwrap();
    let trusted = trust::trusted_through_log(&entries, &[other.public_hex()]);
    assert!(!trusted.contains(&log.key.public_hex()));
    db.finish().await;
}
both!(the_audit_view_names_trusted_signers);

/// The checkpoint only moves forward, per database: a writer finishing after a later entry was
/// recorded does not move it back (which would hide the later entry being cut off), and one
/// key signing in two databases keeps one checkpoint for each.
#[test]
fn the_checkpoint_only_moves_forward_in_each_database() {
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::load_or_create(&dir.path().join("audit-key")).unwrap();
    key.record("/home/lead/flightdeck.db", 11, "h11").unwrap();
    key.record("/home/lead/flightdeck.db", 10, "h10").unwrap();
    key.record("postgres://team@db/flightdeck", 3, "t3")
        .unwrap();
    assert_eq!(
        key.checkpoint("/home/lead/flightdeck.db").map(|c| c.seq),
        Some(11)
    );
    assert_eq!(
        key.checkpoint("postgres://team@db/flightdeck")
            .map(|c| (c.seq, c.hash)),
        Some((3, "t3".to_string()))
    );
    assert_eq!(key.checkpoint("elsewhere"), None);

    // A file written before checkpoints were kept per database holds one for whichever it
    // was: it stands for any database until the next entry is written, and then for none (it
    // would be a false alarm everywhere but in its own).
    std::fs::write(
        dir.path().join("audit-key.checkpoint"),
        r#"{"seq":7,"hash":"old"}"#,
    )
    .unwrap();
    assert_eq!(key.checkpoint("anything").map(|c| c.seq), Some(7));
    key.record("anything", 8, "h8").unwrap();
    assert_eq!(key.checkpoint("anything").map(|c| c.seq), Some(8));
    assert_eq!(key.checkpoint("the old one"), None);
}

/// Two instances appending to one database at once: the checkpoint ends at the last entry
/// whatever order their writes finish in, so cutting that entry off is reported.
async fn concurrent_appends_leave_the_checkpoint_at_the_newest(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let key = std::sync::Arc::new(AuditKey::load_or_create(&dir.path().join("audit-key")).unwrap());
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (store, key) = (db.store.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let target = format!("local:/w/app:claude/c{i}");
            let d = Decision {
                at: 1_790_000_000 + i,
                actor: "lead",
                action: "approve",
                target: &target,
                detail: "ok",
            };
            store.append_audit(&key, &d).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let entries = db.store.audit_entries().await.unwrap();
    let newest = entries.iter().map(|e| e.seq).max().unwrap();
    let cp = key.checkpoint(&db.store.target().identity()).unwrap();
    assert_eq!(cp.seq, newest);
    sqlx::query(&format!("DELETE FROM audit_entries WHERE seq = {newest}"))
        .execute(db.store.pool())
        .await
        .unwrap();
    let v = audit::verify(
        &db.store.audit_entries().await.unwrap(),
        &[key.public_hex()],
        &[cp],
    );
    assert!(!v.ok());
    assert!(flagged(&v, newest, "truncated"), "{v:?}");
    db.finish().await;
}
both!(concurrent_appends_leave_the_checkpoint_at_the_newest);
