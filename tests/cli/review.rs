//! The review loop from the terminal; the outbox applying exactly once across `kill -9`; the GitHub token in the OS keyring.

use super::*;
use flightdeck_core::model::ActionKind;

#[test]
fn review_loop_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("work/app");
    let repo = new_repo(&path);
    let head = agent_commit(&repo, "claude/limit", "limit.rs", "// limiter\n");
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    ok(&run(&["ingest", "--repo", path.to_str().unwrap()]));

    // The default policy wants a person's approval of agent work.
    let changes: serde_json::Value =
        serde_json::from_str(&ok(&run(&["changes", "--json"]))).unwrap();
    assert_eq!(changes.as_array().unwrap().len(), 1);
    assert_eq!(changes[0]["verdict"]["pass"], false);
    let out = run(&["merge", "claude/limit"]);
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("0 of 1 human approvals") && line.contains("--override"),
        "{line}"
    );

    let text = ok(&run(&["approve", "claude/limit", "--comment", "good"]));
    assert!(text.contains("approved at"), "{text}");
    let changes: serde_json::Value =
        serde_json::from_str(&ok(&run(&["changes", "--json"]))).unwrap();
    assert_eq!(changes[0]["verdict"]["pass"], true, "{changes}");
    let text = ok(&run(&["merge", "claude/limit"]));
    assert!(text.contains(&format!("fast-forward to {head}")), "{text}");
    assert_eq!(
        repo.revparse_single("refs/heads/main")
            .unwrap()
            .id()
            .to_string(),
        head
    );
    assert!(
        path.join("limit.rs").is_file(),
        "the checked-out main was updated"
    );

    // A change not worth merging is closed, with the reason; its branch stays.
    agent_commit(&repo, "codex/spare", "spare.rs", "// spare\n");
    ok(&run(&["ingest", "--repo", path.to_str().unwrap()]));
    let text = ok(&run(&["close", "codex/spare", "--comment", "superseded"]));
    assert!(
        text.contains("closed at") && text.contains("superseded"),
        "{text}"
    );
    let changes: serde_json::Value =
        serde_json::from_str(&ok(&run(&["changes", "--json"]))).unwrap();
    assert_eq!(changes.as_array().unwrap().len(), 0, "{changes}");
    assert!(repo
        .find_branch("codex/spare", git2::BranchType::Local)
        .is_ok());
    let out = run(&["merge", "codex/spare", "--squash", "--rebase"]);
    assert!(!out.status.success(), "one method at a time");

    // A merge refused by a dirty work tree is retried from the outbox once it is clean.
    let later = agent_commit(&repo, "codex/later", "later.rs", "// later\n");
    ok(&run(&["ingest", "--repo", path.to_str().unwrap()]));
    ok(&run(&["approve", "codex/later"]));
    std::fs::write(path.join("a.txt"), "edited by hand").unwrap();
    let out = run(&["merge", "codex/later", "--rebase"]);
    assert!(!out.status.success());
    assert!(
        stderr_line(&out).contains("uncommitted changes"),
        "{}",
        stderr_line(&out)
    );
    let listing = ok(&run(&["outbox"]));
    let failed = listing.lines().find(|l| l.contains("failed")).unwrap();
    let prefix = failed.split_whitespace().next().unwrap();
    std::fs::write(path.join("a.txt"), "Initial commit").unwrap();
    let text = ok(&run(&["outbox", "--retry", prefix]));
    assert!(text.starts_with("merge applied"), "{text}");
    assert_eq!(
        repo.revparse_single("refs/heads/main")
            .unwrap()
            .id()
            .to_string(),
        later,
        "fast-forward (rebase onto an unmoved base)"
    );
    let out = run(&["outbox", "--dismiss", prefix]);
    assert!(
        stderr_line(&out).contains("only failed actions"),
        "{}",
        stderr_line(&out)
    );

    let outbox: serde_json::Value = serde_json::from_str(&ok(&run(&["outbox", "--json"]))).unwrap();
    let states: Vec<(&str, &str, &str)> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap(),
                a["state"].as_str().unwrap(),
                a["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("approve", "applied", "Alice Lead"),
            ("merge", "applied", "Alice Lead"),
            ("close", "applied", "Alice Lead"),
            ("approve", "applied", "Alice Lead"),
            ("merge", "applied", "Alice Lead")
        ]
    );
    let text = ok(&run(&["audit", "verify"]));
    assert!(text.contains("ok: 7 entries"), "{text}");
    let text = ok(&run(&["sync"]));
    assert!(text.contains("0 applied"), "{text}");
}

/// The outbox's promise under the worst conditions: 1,000 decisions queued for (the fake)
/// GitHub, which fails at random — before acting and after acting with the answer lost — while
/// `flightdeck sync` is killed with SIGKILL mid-run, again and again, and restarted. Every
/// decision lands exactly once: one review carrying its key.
#[test]
fn outbox_survives_kill_9_exactly_once() {
    use fakehub::{Fault, Hub};
    use flightdeck_core::domain::outbox::marker;
    use flightdeck_core::domain::outbox::{self, Payload};
    use flightdeck_core::forge::github::change_id;
    use flightdeck_core::model::audit::AuditKey;
    use flightdeck_core::store::Store;

    const REPO: &str = "acme/widgets";
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("fd.db");
    let key_path = home.path().join("audit-key");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = Hub::new();
    hub.add_numbered_pulls(REPO, 20);
    let url = rt.block_on(hub.serve(0)).unwrap();
    let keys: Vec<(u64, String)> = rt.block_on(async {
        let store = Store::open(&db.display().to_string()).await.unwrap();
        let mut keys = Vec::new();
        for i in 0..1000u64 {
            let n = i % 20 + 1;
            let p = Payload {
                repo: REPO.into(),
                number: Some(n),
                sha: format!("sha{n}"),
                body: Some(format!("ok {i}")),
                ..Default::default()
            };
            let a = outbox::enqueue(
                &store,
                ActionKind::Approve,
                &change_id(REPO, n),
                &p,
                "alice",
                1,
            )
            .await
            .unwrap();
            keys.push((n, a.idempotency_key));
        }
        store.close().await;
        keys
    });
    AuditKey::load_or_create(&key_path).unwrap();
    hub.push_random_faults(0x9e37_79b9_7f4a_7c15, 4000, |x| match x % 10 {
        0 => Fault::Status(502),
        1 | 2 => Fault::AfterApply(504),
        _ => Fault::Slow(Duration::from_millis(1)),
    });
    let sync = || {
        let mut c = flightdeck(home.path());
        c.arg("--database-url")
            .arg(&db)
            .arg("sync")
            .env("FLIGHTDECK_GITHUB_API", &url)
            .env("GH_TOKEN", "test-token")
            .env("FLIGHTDECK_AUDIT_KEY", &key_path)
            // Retries and a killed sender's claims are due again at once (the defaults are
            // 30 s and 2 min).
            .env("FLIGHTDECK_OUTBOX_RETRY_SECS", "0")
            .env("FLIGHTDECK_OUTBOX_LEASE_SECS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut kills = 0;
    for round in 0..8u64 {
        let mut child = sync().spawn().unwrap();
        std::thread::sleep(Duration::from_millis(250 + 60 * round));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(1100)); // past the (zero) lease second
    }
    assert!(kills >= 3, "sync was killed mid-run only {kills} times");
    let mut done = false;
    for _ in 0..30 {
        let _ = sync().status().unwrap();
        let out = flightdeck(home.path())
            .arg("--database-url")
            .arg(&db)
            .args(["outbox", "--json"])
            .output()
            .unwrap();
        let actions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if actions
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "applied")
        {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(done, "not every action was applied");
    for (n, k) in &keys {
        let copies = hub
            .reviews(REPO, *n)
            .iter()
            .filter(|r| r.3.contains(&marker(k)))
            .count();
        assert_eq!(copies, 1, "action {k} on #{n} applied {copies} times");
    }
    let total: usize = (1..=20).map(|n| hub.reviews(REPO, n).len()).sum();
    assert_eq!(total, 1000);
}

/// The GitHub token kept in the OS keyring — a real Secret Service (gnome-keyring on a private
/// D-Bus session): stored from standard input, found by `token status` and `doctor`, sent to
/// (the fake) GitHub by `sync`, never printed nor written to the database; then removed.
#[test]
fn the_github_token_lives_in_the_os_keyring() {
    use fakehub::{Hub, Pr};
    const TOKEN: &str = "ghp_keyring_5ecret";
    for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap()
                .status
                .success(),
            "{tool} is missing: run scripts/setup.sh --tests (it installs dbus and gnome-keyring)"
        );
    }
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("work/widgets");
    let repo = new_repo(&path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = Hub::new();
    hub.require_token(TOKEN);
    hub.add_pull(
        "acme/widgets",
        Pr::new(7, "Add cache", "claude[bot]", "claude/cache", "c7"),
    );
    let url = rt.block_on(hub.serve(0)).unwrap();
    let host = flightdeck_core::forge::github::forge_host(&url);
    repo.remote("origin", &format!("http://{host}/acme/widgets.git"))
        .unwrap();
    let db = home.path().join("fd.db");
    // One private session bus and keyring for the whole conversation, as a desktop session has.
    let script = r#"
        set -u
        echo -n unlock-me | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
        fd() { "$BIN" --database-url "$DB" "$@"; }
        echo "== status before"; fd token status
        echo "== set"; printf '%s\n' "$SECRET" | fd token set
        echo "== status"; fd token status
        echo "== doctor"; fd doctor 2>&1 | grep github
        echo "== ingest"; fd ingest --repo "$REPO" >/dev/null
        echo "== sync"; fd sync
        echo "== changes"; fd changes --json | grep -c 'github:acme/widgets#7'
        echo "== delete"; fd token delete
        echo "== status after"; fd token status
    "#;
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("FLIGHTDECK_USER", "Alice Lead")
        .env("FLIGHTDECK_GITHUB_API", &url)
        .env("BIN", BIN)
        .env("DB", &db)
        .env("REPO", &path)
        .env("SECRET", TOKEN)
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .env_remove("FLIGHTDECK_DATABASE_URL")
        .env_remove("FLIGHTDECK_CONFIG")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let section = |name: &str| -> String {
        let start = stdout
            .find(&format!("== {name}\n"))
            .unwrap_or_else(|| panic!("no {name} in:\n{stdout}\n{stderr}"));
        let rest = &stdout[start + name.len() + 4..];
        rest[..rest.find("== ").unwrap_or(rest.len())]
            .trim()
            .to_string()
    };
    assert!(section("status before").contains("no token"), "{stdout}");
    assert!(
        section("set").contains("stored the token"),
        "{stdout}\n{stderr}"
    );
    assert!(
        section("status").contains("a token from the OS keyring"),
        "{stdout}"
    );
    assert!(
        section("doctor").contains("with a token from the OS keyring"),
        "{stdout}"
    );
    assert_eq!(
        section("changes"),
        "1",
        "synced with the keyring's token:\n{stdout}\n{stderr}"
    );
    assert!(section("delete").contains("removed the token"), "{stdout}");
    assert!(section("status after").contains("no token"), "{stdout}");
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the token was printed"
    );
    let db_bytes = std::fs::read(&db).unwrap();
    assert!(
        !db_bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is in the database"
    );
}

/// A team on one database: each member signs with their own machine's key. Until a key is
/// trusted, `audit verify` flags its entries and calls the signer unknown; trusted with a name,
/// every signer is named. Adding a key is itself signed in the log; a bad key or no name is
/// refused by name.
#[test]
fn a_team_names_whose_audit_key_is_whose() {
    let alice = tempfile::tempdir().unwrap();
    let bob = tempfile::tempdir().unwrap();
    let db = alice.path().join("team.db");
    let path = alice.path().join("work/app");
    let repo = new_repo(&path);
    agent_commit(&repo, "claude/a", "a.rs", "// a\n");
    agent_commit(&repo, "claude/b", "b.rs", "// b\n");
    let as_alice = |args: &[&str]| with_db(alice.path(), &db, args);
    let as_bob = |args: &[&str]| {
        flightdeck(bob.path())
            .env("FLIGHTDECK_USER", "Bob Builder")
            .arg("--database-url")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    ok(&as_alice(&["ingest", "--repo", path.to_str().unwrap()]));
    ok(&as_alice(&["approve", "claude/a"]));
    ok(&as_bob(&["approve", "claude/b"]));
    let bob_key = ok(&as_bob(&["audit", "key"])).trim().to_string();
    let alice_key = ok(&as_alice(&["audit", "key"])).trim().to_string();
    assert_ne!(bob_key, alice_key, "each machine its own key");

    // Alice does not know Bob's key yet: his entry is flagged, he is unknown.
    let out = as_alice(&["audit", "verify"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("Alice Lead (this machine)"), "{text}");
    assert!(text.contains("UNKNOWN"), "{text}");
    assert!(text.contains("not trusted"), "{text}");

    // Trusted by name, in the shared store: both machines name both signers.
    let added = ok(&as_alice(&[
        "audit",
        "trust",
        "add",
        &bob_key,
        "--name",
        "Bob Builder",
    ]));
    assert!(added.contains("Bob Builder"), "{added}");
    ok(&as_bob(&[
        "audit",
        "trust",
        "add",
        &alice_key,
        "--name",
        "Alice Lead",
    ]));
    for who in [
        as_alice(&["audit", "verify", "--json"]),
        as_bob(&["audit", "verify", "--json"]),
    ] {
        let v: serde_json::Value = serde_json::from_str(&ok(&who)).unwrap();
        let mut names: Vec<String> = v["signers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap_or("?").to_string())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{v}");
        assert!(
            names.iter().any(|n| n.starts_with("Alice Lead")),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n.starts_with("Bob Builder")),
            "{names:?}"
        );
    }
    let list = ok(&as_bob(&["audit", "trust", "list"]));
    assert!(
        list.contains(&bob_key) && list.contains("added by Alice Lead"),
        "{list}"
    );
    // Who trusted whom is in the log too.
    let log: serde_json::Value =
        serde_json::from_str(&ok(&as_alice(&["audit", "verify", "--json"]))).unwrap();
    assert!(log["entries"].as_u64().unwrap() >= 4, "{log}");

    // Bad input, one line each.
    let out = as_alice(&["audit", "trust", "add", "abc", "--name", "X"]);
    assert!(
        stderr_line(&out).contains("not an audit public key"),
        "{}",
        stderr_line(&out)
    );
    let out = as_alice(&["audit", "trust", "add", &bob_key, "--name", " "]);
    assert!(
        stderr_line(&out).contains("needs a name"),
        "{}",
        stderr_line(&out)
    );
    ok(&as_alice(&["audit", "trust", "remove", &bob_key]));
    let out = as_alice(&["audit", "trust", "remove", &bob_key]);
    assert!(
        stderr_line(&out).contains("not a trusted key"),
        "{}",
        stderr_line(&out)
    );
}
