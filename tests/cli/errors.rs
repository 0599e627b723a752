//! Bad input and broken setups: each named in one line, with a non-zero exit; `doctor`.

use super::*;

#[test]
fn malformed_config_names_file_line_and_key() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("bad.toml");
    std::fs::write(&cfg, "[server]\nport = 70000\n").unwrap();
    let out = flightdeck(home.path())
        .args(["--config"])
        .arg(&cfg)
        .arg("doctor")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(line.contains(&format!("{}:2:", cfg.display())), "{line}");
    assert!(line.contains("server.port"), "{line}");
}

#[test]
fn config_file_in_the_xdg_dir_is_read() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[sources]\nrepo = []\n").unwrap();
    let out = flightdeck(home.path()).arg("doctor").output().unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(line.contains("config/flightdeck/config.toml:2:"), "{line}");
    assert!(line.contains("unknown field `repo`"), "{line}");
}

#[test]
fn corrupt_database_is_named() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("broken.db");
    std::fs::write(&db, vec![b'x'; 4096]).unwrap();
    let out = flightdeck(home.path())
        .args(["--database-url"])
        .arg(&db)
        .args(["serve", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("broken.db") && line.contains("corrupt"),
        "{line}"
    );
}

#[test]
fn unwritable_database_is_named() {
    let home = tempfile::tempdir().unwrap();
    let out = flightdeck(home.path())
        .args(["--database-url", "/proc/nope/fd.db", "serve", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("/proc/nope/fd.db") && line.contains("cannot be written"),
        "{line}"
    );
}

#[test]
fn port_in_use_is_named() {
    let home = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    // Plain and TLS alike.
    for tls in [None, Some("--tls")] {
        let out = flightdeck(home.path())
            .args(["serve", "--port", &port.to_string()])
            .args(tls)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let line = stderr_line(&out);
        assert!(
            line.contains(&format!("port {port}")) && line.contains("already in use"),
            "{tls:?}: {line}"
        );
    }
}

/// A certificate or key that cannot be used is named in one line, before anything is served.
#[test]
fn bad_tls_files_are_named() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let serve = |cert: &std::path::Path, key: &std::path::Path| {
        let out = flightdeck(dir)
            .args(["serve", "--port", "0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .unwrap();
        assert!(!out.status.success());
        stderr_line(&out)
    };
    let missing = dir.join("missing.pem");
    let line = serve(&missing, &missing);
    assert!(
        line.contains("missing.pem") && line.contains("No such file"),
        "{line}"
    );
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let line = serve(&junk, &junk);
    assert!(
        line.contains("junk.pem") && line.contains("no certificate"),
        "{line}"
    );
    // A real pair made by `serve --tls`, then mixed up: the CA's certificate with the server's
    // key.
    let mut first = flightdeck(dir);
    first.args(["serve", "--tls", "--port", "0"]);
    let (server, _, _) = spawn_until(first, "/login?code=");
    drop(server);
    let tls = dir.join("data/flightdeck/tls");
    let line = serve(&tls.join("ca.pem"), &tls.join("key.pem"));
    assert!(line.contains("do not go together"), "{line}");
    let line = serve(&tls.join("cert.pem"), &tls.join("cert.pem"));
    assert!(
        line.contains("cert.pem") && line.contains("no private key"),
        "{line}"
    );
    // Half a pair is refused by the flags themselves.
    let out = flightdeck(dir)
        .args(["serve", "--port", "0", "--tls-cert"])
        .arg(tls.join("cert.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

#[test]
fn non_loopback_bind_over_plain_http_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = flightdeck(home.path())
        .args(["serve", "--bind", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("0.0.0.0") && line.contains("--tls") && line.contains("--behind-proxy"),
        "{line}"
    );
}

#[test]
fn doctor_names_a_broken_policy_file() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("policy.toml"),
        "[default]\nagent_approvals = \"two\"\n",
    )
    .unwrap();
    let out = flightdeck(home.path()).arg("doctor").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL  policy") && stdout.contains("policy.toml:2:"),
        "{stdout}"
    );
}

#[test]
fn doctor_reports_a_broken_repo_and_passes_a_good_setup() {
    let home = tempfile::tempdir().unwrap();
    let out = flightdeck(home.path())
        .args(["doctor", "--repo"])
        .arg(home.path().join("not-a-repo"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL  repo") && stdout.contains("not-a-repo"),
        "{stdout}"
    );
    assert!(stdout.contains("fix:"), "{stdout}");

    let repo = home.path().join("repo");
    git2::Repository::init(&repo).unwrap();
    let out = flightdeck(home.path())
        .args(["doctor", "--repo"])
        .arg(&repo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("ok    policy"), "{stdout}");
    assert!(
        stdout.contains("ok    database") && stdout.contains("all checks passed"),
        "{stdout}"
    );
}
