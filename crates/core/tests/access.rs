//! Signing in: a login code opens one session, once, in time; sessions end when revoked or
//! expired; the store keeps no secret in the clear. On SQLite and PostgreSQL.

mod support;

use flightdeck_core::domain::access::{self, AccessError, LOGIN_CODE_SECS, SESSION_SECS};
use flightdeck_core::model::audit::{self, AuditKey};
use flightdeck_core::model::device::TestDevice;
use flightdeck_core::model::pake::{self, PakeError};
use support::{both, TestDb};

async fn a_code_signs_in_once_and_in_time(db: TestDb) {
    let s = &db.store;
    let now = 1_800_000_000;
    let code = access::issue_login_code(s, now).await.unwrap();
    let opened = access::sign_in(s, &code, "Firefox on a phone", now + 5)
        .await
        .unwrap();
    assert_eq!(opened.session.label, "Firefox on a phone");
    assert_eq!(opened.session.expires_at, now + 5 + SESSION_SECS);
    let seen = access::session(s, &opened.secret, now + 10).await.unwrap();
    assert_eq!(seen.map(|s| s.id), Some(opened.session.id.clone()));

    // Replayed: refused, and the first session is untouched.
    let again = access::sign_in(s, &code, "x", now + 6).await.unwrap_err();
    assert!(matches!(again, AccessError::UsedCode), "{again}");
    assert!(again.to_string().contains("used already"), "{again}");

    // Too late, and never issued.
    let late = access::issue_login_code(s, now).await.unwrap();
    let err = access::sign_in(s, &late, "x", now + LOGIN_CODE_SECS)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::ExpiredCode), "{err}");
    let err = access::sign_in(s, "0123456789abcdef", "x", now)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::UnknownCode), "{err}");

    // A secret that is not a session's opens nothing; neither does the code itself.
    assert!(access::session(s, &code, now).await.unwrap().is_none());
    assert!(access::session(s, "nope", now).await.unwrap().is_none());

    // Neither the code nor the session's secret is stored as such.
    for (table, column) in [("login_codes", "hash"), ("sessions", "hash")] {
        let stored: Vec<String> = sqlx::query_scalar(&format!("SELECT {column} FROM {table}"))
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(!stored.is_empty());
        assert!(
            stored.iter().all(|h| h != &code && h != &opened.secret),
            "{table} keeps a secret in the clear"
        );
    }

    // Expired and revoked sessions open nothing; revoking twice says so.
    assert!(access::session(s, &opened.secret, now + 5 + SESSION_SECS)
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.open_sessions(now + 20).await.unwrap().len(), 1);
    access::revoke(s, &opened.session.id, now + 20)
        .await
        .unwrap();
    assert!(access::session(s, &opened.secret, now + 21)
        .await
        .unwrap()
        .is_none());
    let err = access::revoke(s, &opened.session.id, now + 22)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no open session"), "{err}");
    assert!(s.open_sessions(now + 20).await.unwrap().is_empty());

    // Ended sessions do not pile up: a sign-in a day after one ended takes its row away, and
    // leaves an open one alone.
    let hash = |secret: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(secret.as_bytes()))
    };
    assert!(s
        .session_by_hash(&hash(&opened.secret))
        .await
        .unwrap()
        .is_some());
    let later = now + 20 + 86_400 + 1;
    let code = access::issue_login_code(s, later).await.unwrap();
    let still_open = access::sign_in(s, &code, "kept", later).await.unwrap();
    let code = access::issue_login_code(s, later + 1).await.unwrap();
    access::sign_in(s, &code, "next", later + 1).await.unwrap();
    assert!(s
        .session_by_hash(&hash(&opened.secret))
        .await
        .unwrap()
        .is_none());
    assert!(s
        .session_by_hash(&hash(&still_open.secret))
        .await
        .unwrap()
        .is_some());
    db.finish().await;
}
both!(a_code_signs_in_once_and_in_time);

async fn two_racing_sign_ins_with_one_code_open_one_session(db: TestDb) {
    let s = &db.store;
    let now = 1_800_000_000;
    let code = access::issue_login_code(s, now).await.unwrap();
    let tries = (0..8).map(|i| {
        let s = s.clone();
        let code = code.clone();
        tokio::spawn(async move { access::sign_in(&s, &code, &format!("b{i}"), now).await })
    });
    let mut won = 0;
    for t in tries {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(AccessError::UsedCode) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(s.open_sessions(now).await.unwrap().len(), 1);
    db.finish().await;
}
both!(two_racing_sign_ins_with_one_code_open_one_session);

/// The phone's side of pairing: SPAKE2 with the secret half of `code`, a key of its own.
async fn pair_as_phone(
    s: &flightdeck_core::store::Store,
    audit: &flightdeck_core::model::audit::AuditKey,
    code: &str,
    secret_override: Option<&str>,
    now: i64,
) -> (
    Result<access::Paired, AccessError>,
    flightdeck_core::model::pake::Keys,
    TestDevice,
) {
    let (id, secret) = code.split_once('.').unwrap();
    let phone = TestDevice::new();
    let half =
        pake::Half::device(&pake::password_scalar(secret_override.unwrap_or(secret))).unwrap();
    let started = access::pair_start(s, id, &half.message(), now)
        .await
        .unwrap();
    let keys = half
        .finish(&started.message(), phone.public_hex().as_bytes())
        .unwrap();
    let paired = access::pair_finish(
        s,
        audit,
        &started,
        &phone.public_hex(),
        &keys.device_confirms,
        now,
    )
    .await;
    (paired, keys, phone)
}

async fn a_pairing_code_names_its_device_and_lasts_five_minutes(db: TestDb) {
    let s = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let audit = AuditKey::load_or_create(&dir.path().join("key")).unwrap();
    let now = 1_800_000_000;
    let code = access::issue_pairing_code(s, Some("Ana's phone"), now)
        .await
        .unwrap();
    // Not a sign-in code: it pairs only through SPAKE2.
    let err = access::sign_in(s, &code, "x", now).await.unwrap_err();
    assert!(matches!(err, AccessError::UnknownCode), "{err}");
    let (paired, keys, phone) = pair_as_phone(s, &audit, &code, None, now + 10).await;
    let paired = paired.unwrap();
    assert_eq!(paired.opened.session.label, "Ana's phone");
    assert_eq!(paired.opened.session.device_key, Some(phone.public_hex()));
    assert_eq!(paired.server_confirms, keys.server_confirms);
    let seen = access::session(s, &paired.opened.secret, now + 11)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.device_key, Some(phone.public_hex()));
    // Enrolled in the audit log under its key.
    let entries = s.audit_entries().await.unwrap();
    assert_eq!(entries[0].action, audit::DEVICE_PAIRED);
    assert_eq!(entries[0].device_key, phone.public_hex());
    let v = audit::verify(&entries, &[audit.public_hex()], &[]);
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.devices[0].name, "Ana's phone");

    // Once: the code is spent.
    let (id, _) = code.split_once('.').unwrap();
    let half = pake::Half::device(&pake::password_scalar("x")).unwrap();
    let err = access::pair_start(s, id, &half.message(), now + 20)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AccessError::UsedPairing), "{err}");
    assert!(err.to_string().contains("used already"), "{err}");

    // A wrong secret does not pair, and spends the code.
    let code = access::issue_pairing_code(s, None, now).await.unwrap();
    let (paired, _, _) = pair_as_phone(s, &audit, &code, Some("guess"), now + 1).await;
    let err = paired.err().unwrap();
    assert!(
        matches!(err, AccessError::Pairing(PakeError::Mismatch)),
        "{err}"
    );
    let (id, _) = code.split_once('.').unwrap();
    let err = access::pair_start(s, id, &half.message(), now + 2)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AccessError::UsedPairing), "{err}");

    // Five minutes; unknown ids; a key that is not a P-256 point.
    let late = access::issue_pairing_code(s, None, now).await.unwrap();
    let (id, _) = late.split_once('.').unwrap();
    let err = access::pair_start(s, id, &half.message(), now + access::PAIR_CODE_SECS)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AccessError::ExpiredPairing), "{err}");
    let err = access::pair_start(s, "0123456789ab", &half.message(), now)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AccessError::UnknownPairing), "{err}");
    let code = access::issue_pairing_code(s, None, now).await.unwrap();
    let (id, secret) = code.split_once('.').unwrap();
    let half = pake::Half::device(&pake::password_scalar(secret)).unwrap();
    let started = access::pair_start(s, id, &half.message(), now)
        .await
        .unwrap();
    let err = access::pair_finish(s, &audit, &started, "04beef", &[0; 32], now)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::DeviceKey(_)), "{err}");
    db.finish().await;
}
both!(a_pairing_code_names_its_device_and_lasts_five_minutes);
