//! Signing in: a login code opens one session, once, in time; sessions end when revoked or
//! expired; the store keeps no secret in the clear. On SQLite and PostgreSQL.

mod support;

use flightdeck_core::domain::access::{self, AccessError, LOGIN_CODE_SECS, SESSION_SECS};
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

async fn a_pairing_code_names_its_device_and_lasts_five_minutes(db: TestDb) {
    let s = &db.store;
    let now = 1_800_000_000;
    let code = access::issue_pairing_code(s, Some("Ana's phone"), now)
        .await
        .unwrap();
    let opened = access::sign_in(s, &code, "Mobile Safari", now + 10)
        .await
        .unwrap();
    assert_eq!(opened.session.label, "Ana's phone");
    let late = access::issue_pairing_code(s, None, now).await.unwrap();
    let err = access::sign_in(s, &late, "x", now + access::PAIR_CODE_SECS)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::ExpiredCode), "{err}");
    // Unnamed: the browser's own name.
    let plain = access::issue_pairing_code(s, Some("  "), now)
        .await
        .unwrap();
    let opened = access::sign_in(s, &plain, "Firefox", now + 1)
        .await
        .unwrap();
    assert_eq!(opened.session.label, "Firefox");
    db.finish().await;
}
both!(a_pairing_code_names_its_device_and_lasts_five_minutes);
