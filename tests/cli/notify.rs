//! `flightdeck notify` against local receivers: `rules` says which channel lacks its secret,
//! `test` sends a signed test message (the secret from the variable the config names) and fails
//! naming the channel that is down, `list` shows both.

use super::*;
use fakehub::receivers::Receiver;

#[test]
fn notify_rules_test_and_list_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hook = Receiver::webhook("cli-hook-secret");
    let hook_url = rt.block_on(hook.serve_webhook(0)).unwrap();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/leads")
    };
    let config = home.path().join("flightdeck.toml");
    std::fs::write(
        &config,
        format!(
            r#"[notify.channels.ops]
kind = "webhook"
url = "{hook_url}"
secret_env = "FD_CLI_HOOK_SECRET"

[notify.channels.phone]
kind = "ntfy"
url = "{dead}"

[notify.channels.unsigned]
kind = "webhook"
url = "{hook_url}"
secret_env = "FD_CLI_UNSET"

[[notify.rules]]
events = ["release_gate"]
channels = ["ops", "phone"]
"#
        ),
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| {
        flightdeck(home.path())
            .arg("--config")
            .arg(&config)
            .arg("--database-url")
            .arg(&db)
            .args(args)
            .env("FD_CLI_HOOK_SECRET", "cli-hook-secret")
            .env_remove("FD_CLI_UNSET")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .output()
            .unwrap()
    };

    let rules = ok(&run(&["notify", "rules"]));
    let line = |name: &str| {
        rules
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{rules}"))
            .to_string()
    };
    assert!(line("ops").ends_with("ready"), "{rules}");
    assert!(
        line("unsigned").contains("NOT READY") && line("unsigned").contains("FD_CLI_UNSET"),
        "{rules}"
    );
    assert!(
        rules.contains("release_gate of every repo → ops, phone"),
        "{rules}"
    );

    let out = run(&["notify", "test", "ops"]);
    assert!(ok(&out).contains("ops: sent a test message"));
    let got = hook.accepted();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].signed);
    assert_eq!(got[0].body["type"], "test");

    // All channels: the dead one and the unsigned one fail the command, each named.
    let out = run(&["notify", "test"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("error: phone:") && err.contains("cannot connect"),
        "{err}"
    );
    assert!(
        err.contains("error: notify.channels.unsigned.secret_env"),
        "{err}"
    );
    assert_eq!(hook.accepted().len(), 2, "ops was still sent its test");

    let list = ok(&run(&["notify", "list"]));
    assert!(
        list.lines()
            .any(|l| l.contains("phone") && l.contains("gave_up") && l.contains("cannot connect")),
        "{list}"
    );
    assert_eq!(
        list.lines()
            .filter(|l| l.contains("ops") && l.contains(" sent "))
            .count(),
        2,
        "{list}"
    );

    let out = run(&["notify", "test", "nope"]);
    assert!(stderr_line(&out)
        .contains("no channel `nope` in [notify.channels] (configured: ops, phone, unsigned)"));
}
