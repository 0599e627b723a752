//! `demo` and `serve`: what they read is served, and new branches are picked up live.

use super::*;

// The shipped build leaves `demo` out; tests/package.sh checks that build refuses it.
#[cfg(feature = "demo")]
#[test]
fn demo_serves_demo_data() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("demo");
    let mut cmd = flightdeck(home.path());
    cmd.args(["demo", "--no-open", "--port", "0", "--dir"])
        .arg(&dir);
    let (_server, client) = spawn_listening(cmd);
    let deadline = Instant::now() + Duration::from_secs(120);
    let health = loop {
        if let Some((200, body)) = client.get("/api/health") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "demo did not come up on port {}",
            client.port
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(health.contains("\"repos\":3"), "{health}");
    let (status, changes) = client.get("/api/changes").unwrap();
    assert_eq!(status, 200);
    assert!(
        changes.contains("claude/add-rate-limiting"),
        "{changes:.400}"
    );
    assert!(dir.join("repos/acme-api/.git").is_dir());
    assert!(dir.join("flightdeck.db").is_file());

    // Its inbox went to its local receivers: the webhook (signed, every event: ten single
    // messages, the rest in a digest), ntfy (what needs a person now), Slack and email (over
    // STARTTLS), each once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let sent = loop {
        let (status, body) = client.get("/api/notifications").unwrap();
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let recent = v["recent"].as_array().cloned().unwrap_or_default();
        let sent = |channel: &str, via: &str| {
            recent
                .iter()
                .filter(|n| n["channel"] == channel && n["status"] == "sent" && n["via"] == via)
                .count()
        };
        if sent("team-hook", "digest") > 0
            && sent("phone", "single") > 0
            && sent("leads", "single") > 0
        {
            break (sent("team-hook", "single"), v);
        }
        assert!(Instant::now() < deadline, "nothing sent: {body:.600}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(sent.0, 10, "{:.600}", sent.1);
    let journal = std::fs::read_to_string(dir.join("fake-requests.log")).unwrap();
    assert!(
        journal.contains("notify POST /hook credential=none"),
        "{journal:.800}"
    );
    assert!(
        journal.contains("notify POST / credential=own"),
        "{journal:.800}"
    );

    // The demo's audit trail is signed with its own key: it verifies with that key, exports,
    // and the export verifies elsewhere; an edited export does not.
    let db = dir.join("flightdeck.db");
    let audit = |key: &std::path::Path, args: &[&str]| {
        flightdeck(home.path())
            .env("FLIGHTDECK_AUDIT_KEY", key)
            .arg("--database-url")
            .arg(&db)
            .arg("audit")
            .args(args)
            .output()
            .unwrap()
    };
    let demo_key = dir.join("audit-key");
    let out = audit(&demo_key, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok: 5 entries"), "{text}");
    // The demo's pending release: what it holds over production, approved here and signed.
    let release = |args: &[&str]| {
        flightdeck(home.path())
            .env("FLIGHTDECK_AUDIT_KEY", &demo_key)
            .arg("--database-url")
            .arg(&db)
            .arg("release")
            .args(args)
            .output()
            .unwrap()
    };
    let list: serde_json::Value =
        serde_json::from_slice(&release(&["list", "--json"]).stdout).unwrap();
    let pending = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "pending")
        .expect("the demo has a pending release")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown: serde_json::Value =
        serde_json::from_slice(&release(&["show", &pending, "--json"]).stdout).unwrap();
    assert!(!shown["commits"].as_array().unwrap().is_empty(), "{shown}");
    let out = release(&["reject", &pending, "--reason", ""]);
    assert!(stderr_line(&out).contains("needs a reason"));
    let out = release(&["approve", &pending, "--reason", "looks good", "--tag"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && said.contains("approved"), "{said}");
    let tag = shown["release"]["name"].as_str().unwrap();
    let repo_name = shown["release"]["repo"].as_str().unwrap();
    let out = release(&["verify-tag", tag, "--repo", repo_name]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.starts_with("ok: approved release"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = audit(&demo_key, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("ok: 6 entries"), "{text}");
    // Another lead's machine does not trust the demo key until told to.
    let elsewhere = home.path().join("elsewhere-key");
    let out = audit(&elsewhere, &["verify"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not trusted"));
    let demo_public = String::from_utf8_lossy(&audit(&demo_key, &["key"]).stdout)
        .trim()
        .to_string();
    assert!(audit(&elsewhere, &["verify", "--trust", &demo_public])
        .status
        .success());
    let export = home.path().join("audit.json");
    let out = audit(&demo_key, &["export", "--out", export.to_str().unwrap()]);
    assert!(out.status.success());
    // Without the sender's key, the keys the file lists are trusted, and it says so loudly.
    let out = audit(&elsewhere, &["verify", "--file", export.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let warned = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        warned.contains("warning:") && warned.contains("trusting the keys the file itself lists"),
        "{warned}"
    );
    // With it, only that key (and what the log trusts through it): the file's own list is not
    // taken, so a file signed by another key fails.
    let file = export.to_str().unwrap();
    let out = audit(
        &elsewhere,
        &["verify", "--file", file, "--trust", &demo_public],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("trusting the keys"));
    let elsewhere_public = String::from_utf8_lossy(&audit(&elsewhere, &["key"]).stdout)
        .trim()
        .to_string();
    let out = audit(
        &elsewhere,
        &["verify", "--file", file, "--trust", &elsewhere_public],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not trusted"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let edited = std::fs::read_to_string(&export).unwrap().replacen(
        "fast-forward into main",
        "merge commit into main",
        1,
    );
    std::fs::write(&export, edited).unwrap();
    let out = audit(&elsewhere, &["verify", "--file", export.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("entry 2: was edited"), "{text}");
    // The demo refuses to build over a folder that is not its own.
    let other = home.path().join("precious");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep me").unwrap();
    let out = flightdeck(home.path())
        .args(["demo", "--no-open", "--port", "0", "--dir"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not a Flightdeck demo"));
    assert_eq!(
        std::fs::read_to_string(other.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn serve_ingests_flagged_sources_and_picks_up_new_branches() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("work/app");
    let repo = new_repo(&path);
    commit_on(
        &repo,
        "claude/first",
        "b.txt",
        "Add b\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
    );
    let empty = home.path().join("no-logs");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = flightdeck(home.path());
    cmd.args(["serve", "--rescan-secs", "1", "--port", "0", "--repo"])
        .arg(&path)
        .arg("--claude-dir")
        .arg(&empty)
        .arg("--codex-home")
        .arg(&empty);
    let (_server, client) = spawn_listening(cmd);
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, body)) = client.get("/api/changes") {
                if body.contains(needle) {
                    return body;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{needle} never appeared in /api/changes"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let body = wait_for("claude/first");
    assert!(
        body.contains(r#""author":{"kind":"agent","agent":"claude-code"}"#),
        "{body}"
    );
    // A new agent branch made while serving shows up on the next rescan, without a restart.
    repo.set_head("refs/heads/main").unwrap();
    commit_on(&repo, "codex/second", "c.txt", "Add c");
    wait_for("codex/second");
}

/// `flightdeck serve ARGS --port 0` in `home` on a new repo `work/app`, with no agent logs.
fn serve_one_repo(home: &std::path::Path, args: &[&str]) -> Command {
    let path = home.join("work/app");
    new_repo(&path);
    let empty = home.join("no-logs");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = flightdeck(home);
    cmd.arg("serve")
        .args(args)
        .args(["--port", "0", "--repo"])
        .arg(&path)
        .arg("--claude-dir")
        .arg(&empty)
        .arg("--codex-home")
        .arg(&empty);
    cmd
}

/// The browser's way in: nothing without a session; `flightdeck login` prints a new one-time
/// link for the running server; a link works once; `devices` lists and signs out browsers.
#[test]
fn browsers_sign_in_with_one_time_links_and_can_be_signed_out() {
    let home = tempfile::tempdir().unwrap();
    let (_server, first) = spawn_listening(serve_one_repo(home.path(), &[]));
    let port = first.port;
    assert_eq!(first.get("/api/inbox").map(|r| r.0), Some(200));
    let (status, body) = raw_get(port, "/api/inbox", None)
        .map(|(s, _, b)| (s, b))
        .unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("flightdeck login"), "{body}");

    let out = flightdeck(home.path())
        .args(["login", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let link = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", stderr_line(&out));
    let (p, code) = sign_in_link(&link).unwrap_or_else(|| panic!("no link in {link}"));
    assert_eq!(p, port);
    let second = Client::sign_in(port, &code).unwrap();
    assert_eq!(second.get("/api/inbox").map(|r| r.0), Some(200));
    // The link is spent.
    let (status, _, page) = raw_get(port, &format!("/login?code={code}"), None).unwrap();
    assert_eq!(status, 401);
    assert!(page.contains("used already"), "{page}");

    let list = |json: bool| {
        let mut c = flightdeck(home.path());
        c.args(["devices", "list"]);
        if json {
            c.arg("--json");
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", stderr_line(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // A phone paired with a QR code: SPAKE2 for the code in the link's fragment, a key of its
    // own; it is the device it was named for, and its requests must be signed.
    let out = flightdeck(home.path())
        .args(["pair", "--name", "Ana's phone", "--url"])
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_line(&out));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        printed.contains('█') || printed.contains('▀'),
        "no QR code:\n{printed}"
    );
    let link = printed
        .split_whitespace()
        .find(|w| w.contains("/pair#"))
        .unwrap_or_else(|| panic!("no pairing link in {printed}"));
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{port}/pair#")),
        "{link}"
    );
    let phone = support_pair(port, link.rsplit('#').next().unwrap());
    let (status, _) = phone.0.get("/api/session").unwrap();
    assert_eq!(status, 403, "unsigned");
    let (status, me) = signed_get(port, &phone, "/api/session");
    assert_eq!(status, 200, "{me}");
    assert!(me.contains("Ana's phone"), "{me}");
    let listed = list(false);
    assert!(listed.contains("Ana's phone"), "{listed}");
    let fingerprint = flightdeck_core::model::device::fingerprint(&phone.1.public_hex());
    assert!(listed.contains(&fingerprint), "{listed}");
    let out = flightdeck(home.path())
        .args(["devices", "revoke"])
        .arg(
            serde_json::from_str::<serde_json::Value>(&me).unwrap()["session"]["id"]
                .as_str()
                .unwrap(),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_line(&out));

    let sessions: serde_json::Value = serde_json::from_str(&list(true)).unwrap();
    let ids: Vec<String> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{sessions}");
    assert!(list(false).contains(&ids[0]));
    // Sign one out: it gets nothing more; the other is untouched.
    let (me_status, me) = second.get("/api/session").unwrap();
    assert_eq!(me_status, 200);
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    let id = me["session"]["id"].as_str().unwrap().to_string();
    let out = flightdeck(home.path())
        .args(["devices", "revoke", &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_line(&out));
    assert_eq!(second.get("/api/inbox").map(|r| r.0), Some(401));
    assert_eq!(first.get("/api/inbox").map(|r| r.0), Some(200));
    let out = flightdeck(home.path())
        .args(["devices", "revoke", &id])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_line(&out).contains("no open session"),
        "{}",
        stderr_line(&out)
    );
}

/// `serve --tls`: a local CA and a server certificate made on first use (keys readable by the
/// user only), the fingerprint printed, an https sign-in link whose cookie is Secure, and the CA
/// certificate offered for a phone to install; a client that trusts that CA gets the API.
#[test]
fn serve_tls_makes_a_certificate_a_phone_can_trust() {
    let home = tempfile::tempdir().unwrap();
    let cmd = serve_one_repo(home.path(), &["--tls"]);
    let (_server, lines, stderr) = spawn_until(cmd, "/login?code=");
    let link = lines
        .iter()
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("https://127.0.0.1:") && w.contains("/login?code="))
        })
        .unwrap_or_else(|| panic!("no https link in {lines:?}\n{stderr}"))
        .to_string();
    let fingerprint = lines
        .iter()
        .find_map(|l| {
            l.split_once("TLS certificate SHA-256: ")
                .map(|(_, f)| f.trim())
        })
        .unwrap_or_else(|| panic!("no fingerprint in {lines:?}"))
        .to_string();
    let tls = home.path().join("data/flightdeck/tls");
    let ca = std::fs::read_to_string(tls.join("ca.pem")).unwrap();
    #[cfg(unix)]
    for key in ["ca-key.pem", "key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tls.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{key} is readable by others: {mode:o}");
    }
    // The printed fingerprint is the served certificate's (the first in cert.pem), as
    // openssl reads it; and the certificate names this machine's loopback addresses.
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(["x509", "-in"])
            .arg(tls.join("cert.pem"))
            .args(["-noout"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_line(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let theirs = openssl(&["-fingerprint", "-sha256"]);
    assert_eq!(theirs.trim().rsplit('=').next(), Some(fingerprint.as_str()));
    let names = openssl(&["-ext", "subjectAltName"]);
    assert!(
        names.contains("IP Address:127.0.0.1") && names.contains("DNS:localhost"),
        "{names}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let trusting = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = trusting.get(&link).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303);
        let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            set.contains("; Secure") && set.contains("HttpOnly"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        let base = link.split("login?").next().unwrap();
        let res = trusting
            .get(format!("{base}api/repos"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        // Over HTTP/2 (the host in the URI, no `Host` header), as a browser would speak.
        assert_eq!(res.version(), reqwest::Version::HTTP_2);
        assert!(res.text().await.unwrap().contains("app"));
        // A pairing link names this server as it was reached, port included.
        let res = trusting
            .post(format!("{base}api/session/pair"))
            .header("cookie", &cookie)
            .header("origin", base.trim_end_matches('/'))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let pairing: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        let url = pairing["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{base}pair#")), "{url}");
        assert_eq!(pairing["ca_url"], format!("{base}tls/ca.pem"));
        // The certificate's fingerprint, as `serve` printed it, for the lead to compare.
        let printed_fp = lines
            .iter()
            .find_map(|l| l.split("SHA-256: ").nth(1))
            .expect("serve printed the fingerprint")
            .trim()
            .to_string();
        assert_eq!(pairing["tls_fingerprint"], printed_fp);
        // The CA certificate for a phone: the same as on disk.
        let offered = trusting
            .get(format!("{base}tls/ca.pem"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            offered.headers()["content-type"],
            "application/x-x509-ca-cert"
        );
        assert_eq!(offered.text().await.unwrap(), ca);
        // A client that trusts only the public CAs refuses the certificate.
        let public = reqwest::Client::builder().build().unwrap();
        assert!(public
            .get(format!("{base}tls/ca.pem"))
            .send()
            .await
            .is_err());
    });
    // Plain HTTP to the TLS port gets no page.
    let port: u16 = link
        .trim_start_matches("https://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(raw_get(port, "/", None).is_none_or(|(status, _, _)| status != 200));
}

/// Pairs as a phone would (`ui/src/device.ts`): SPAKE2 with the code's secret, which is never
/// sent, and a key of its own. The phone's session, and its key.
fn support_pair(port: u16, code: &str) -> (Client, flightdeck_core::model::device::TestDevice) {
    use flightdeck_core::model::{device::TestDevice, pake};
    let (id, secret) = code.split_once('.').expect("ID.SECRET");
    let key = TestDevice::new();
    let half = pake::Half::device(&pake::password_scalar(secret)).unwrap();
    let start = serde_json::json!({"code_id": id, "message": hex_of(&half.message())});
    let (status, _, body) = raw_post(port, "/pair/start", &start.to_string(), &[]).unwrap();
    assert_eq!(status, 200, "{body}");
    let started: serde_json::Value = serde_json::from_str(&body).unwrap();
    let theirs: [u8; 32] = bytes_of(started["message"].as_str().unwrap())
        .try_into()
        .unwrap();
    let keys = half.finish(&theirs, key.public_hex().as_bytes()).unwrap();
    let finish = serde_json::json!({
        "exchange": started["exchange"],
        "device_key": key.public_hex(),
        "confirmation": hex_of(&keys.device_confirms),
    });
    let (status, head, body) = raw_post(port, "/pair/finish", &finish.to_string(), &[]).unwrap();
    assert_eq!(status, 200, "{body}");
    let done: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(done["confirmation"], hex_of(&keys.server_confirms));
    let cookie = set_cookie(&head).expect("a session cookie");
    (Client { port, cookie }, key)
}

/// A GET signed with the device's key, as its page signs every request.
fn signed_get(
    port: u16,
    phone: &(Client, flightdeck_core::model::device::TestDevice),
    path: &str,
) -> (u16, String) {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let nonce = format!("n{at}abcdefghijkl");
    let message = flightdeck_core::model::device::request_message("GET", path, at, &nonce, b"");
    let sig = phone.1.sign(message.as_bytes());
    let headers = [
        ("Cookie", phone.0.cookie.clone()),
        ("X-Flightdeck-Time", at.to_string()),
        ("X-Flightdeck-Nonce", nonce),
        ("X-Flightdeck-Signature", sig),
    ];
    let (status, _, body) = raw_request(port, "GET", path, "", &headers).unwrap();
    (status, body)
}

fn raw_post(
    port: u16,
    path: &str,
    body: &str,
    headers: &[(&str, String)],
) -> Option<(u16, String, String)> {
    raw_request(port, "POST", path, body, headers)
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn bytes_of(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The demo and the desktop window it opens send no credential of the user's: with every token
/// and key a user could have set in the environment of both (the window inherits them), a `gh`
/// that answers for any host and a config file of their own, each request the demo's fakes
/// answer (journalled by them, the window's GitHub, billing and GrowthBook syncs included)
/// carries none or the demo's own, `gh` is never asked, and the window starts from the demo's
/// settings, not the user's.
#[cfg(feature = "demo")]
#[test]
#[ignore = "needs a display and the desktop binary: scripts/test.sh runs it under xvfb-run"]
fn no_request_of_the_demo_or_its_window_carries_a_real_token() {
    use std::os::unix::process::CommandExt;
    const REAL: &str = "ghp_REAL_TOKEN_OF_THE_USER";
    let display = std::env::var_os("DISPLAY").expect("DISPLAY (run under xvfb-run)");
    let desktop = std::path::Path::new(BIN).with_file_name("flightdeck-desktop");
    assert!(desktop.is_file(), "{} is not built", desktop.display());
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("demo");
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gh_calls = home.path().join("gh-calls");
    // A `gh` logged in everywhere: it answers any host with the user's token.
    let gh = bin.join("gh");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\necho {REAL}\n",
            gh_calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&gh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = home.path().join("config/flightdeck/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[agents.users-own]\ncommand = [\"true\"]\n[github]\napi_url = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();

    let mut cmd = flightdeck(home.path());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.args(["demo", "--port", "0", "--dir"])
        .arg(&dir)
        .env("DISPLAY", display)
        .env("PATH", path)
        .env("FLIGHTDECK_CONFIG", &config)
        .process_group(0);
    for var in [
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "GROWTHBOOK_API_KEY",
        "ANTHROPIC_ADMIN_KEY",
        "OPENAI_ADMIN_KEY",
    ] {
        cmd.env(var, REAL);
    }
    let started = Instant::now();
    let (server, printed, stderr) = spawn_until(cmd, "desktop window:");
    // The window is the demo's child: the whole group goes when the test ends.
    struct Group(u32);
    impl Drop for Group {
        fn drop(&mut self) {
            // pkill by group: procps' `kill` reads a negative group id as options.
            let _ = Command::new("pkill")
                .args(["-TERM", "-g", &self.0.to_string()])
                .status();
        }
    }
    let _group = Group(server.0.id());
    assert!(
        printed.last().is_some_and(|l| l.contains("opened")),
        "{printed:?}\n{stderr}"
    );
    let demo_config = std::fs::read_to_string(dir.join("flightdeck.toml")).unwrap();
    // It names the database, whose URL may hold a password: the user's alone.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("flightdeck.toml"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    assert!(demo_config.contains("demo = true"), "{demo_config}");
    assert!(!demo_config.contains("users-own"), "{demo_config}");

    // Wait for the window's own requests. The demo syncs GitHub once as it starts and then
    // every 60 s (each sync ends by asking `/user`); it reads the vendors' cost reports and
    // GrowthBook twice as it starts (a first read, then its runtime's) and then hourly or every
    // 10 min. So within 50 s of the demo's start, a second `/user`, a third cost report and a
    // third experiments list are the window's.
    let log = dir.join("fake-requests.log");
    let deadline = started + Duration::from_secs(50);
    let count = |text: &str, start: &str| text.lines().filter(|l| l.starts_with(start)).count();
    let journal = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if count(&text, "github GET /user ") >= 2
            && count(&text, "billing GET /v1/organizations/cost_report ") >= 3
            && count(&text, "growthbook GET /api/v1/experiments ") >= 3
        {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the window did not sync GitHub, billing and GrowthBook within 50 s of the demo's \
             start; journal:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let foreign: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("credential=foreign"))
        .collect();
    assert!(foreign.is_empty(), "{foreign:#?}");
    for fake in ["github ", "billing ", "growthbook "] {
        assert!(
            journal.lines().any(|l| l.starts_with(fake)),
            "no request reached the {fake}fake:\n{journal}"
        );
    }
    assert!(
        journal.lines().any(|l| l.contains("credential=own")),
        "the demo's own keys went nowhere:\n{journal}"
    );
    assert!(
        !gh_calls.exists(),
        "gh was asked: {}",
        std::fs::read_to_string(&gh_calls).unwrap_or_default()
    );
}
