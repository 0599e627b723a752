//! Work items, agent dispatch and cancel, and request-changes with send-back.

use super::*;

/// Work items from the terminal with an agent from the config: added for a person, handed to
/// the agent, moved on; an agent not configured is refused by name; all in the audit log.
#[test]
fn work_items_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[agents.claude]\nvendor = \"anthropic\"\ncommand = [\"claude\", \"-p\", \"{prompt}\"]\nconcurrency = 2\n",
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let out = run(&[
        "work",
        "add",
        "Fix the flaky test",
        "--assignee",
        "person:bob",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = w["id"].as_str().unwrap().to_string();
    let out = run(&["work", "assign", &id, "agent:claude"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("agent:claude"));
    let out = run(&["work", "assign", &id, "agent:gpt"]);
    assert!(
        stderr_line(&out).contains("no agent `gpt` is configured"),
        "{}",
        stderr_line(&out)
    );
    assert!(run(&["work", "state", &id, "in_review"]).status.success());
    let out = run(&["work", "state", &id, "shipped"]);
    assert!(stderr_line(&out).contains("not a state"));
    let list: serde_json::Value =
        serde_json::from_slice(&run(&["work", "list", "--json"]).stdout).unwrap();
    assert_eq!(list["work_items"][0]["state"], "in_review");
    assert_eq!(list["work_items"][0]["assignee"], "agent:claude");
    assert_eq!(list["agents"][0]["name"], "claude");
    assert_eq!(list["agents"][0]["concurrency"], 2);
    let text = String::from_utf8_lossy(&run(&["audit", "verify"]).stdout).to_string();
    assert!(text.contains("ok: 3 entries"), "{text}");
}

/// `work dispatch` runs the agent in the foreground with its output shown; `work cancel` from
/// another process stops a hanging one's whole process tree, and the first process reports it.
#[test]
fn dispatch_and_cancel_from_the_terminal() {
    let fake = fake_agent();
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("web");
    new_repo(&repo);
    let claude = home.path().join("claude");
    std::fs::create_dir_all(claude.join("projects")).unwrap();
    let trace = home.path().join("trace");
    std::fs::write(&trace, "").unwrap();
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    let agent = |mode: &str| {
        format!(
            "vendor = \"anthropic\"\ncommand = [\"bash\", \"{fake}\", \"{mode}\", \"{}\", \"{}\", \"{{prompt}}\"]\n",
            claude.display(),
            trace.display()
        )
    };
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[sources]\nrepos = [\"{}\"]\nclaude_dirs = [\"{}\"]\n\n[agents.fake]\n{}\n[agents.stuck]\n{}",
            repo.display(),
            claude.display(),
            agent("ok"),
            agent("hang")
        ),
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let add = |title: &str| {
        let out = run(&[
            "work",
            "add",
            title,
            "--repo",
            repo.to_str().unwrap(),
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        w["id"].as_str().unwrap().to_string()
    };

    let id = add("Add a health endpoint");
    let out = run(&["work", "dispatch", &id]);
    assert!(stderr_line(&out).contains("not assigned to an agent"));
    let out = run(&["work", "dispatch", &id, "--agent", "fake"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("fake agent: committed"), "{stdout}");
    assert!(stdout.contains("succeeded"), "{stdout}");
    let list: serde_json::Value =
        serde_json::from_slice(&run(&["work", "list", "--json"]).stdout).unwrap();
    assert_eq!(list["work_items"][0]["state"], "in_review");
    assert_eq!(list["dispatches"][0]["state"], "succeeded");
    let links = list["work_items"][0]["links"].to_string();
    assert!(
        links.contains("\"run\"") && links.contains("\"change\""),
        "{links}"
    );

    // Request changes and send back, from the terminal: the decision is recorded and the agent
    // runs again on the same branch, here, with its output shown.
    let change = list["work_items"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "change")
        .map(|l| l["target"].as_str().unwrap().to_string())
        .unwrap();
    let branch = list["dispatches"][0]["branch"]
        .as_str()
        .unwrap()
        .to_string();
    let head = |b: &str| {
        let r = git2::Repository::open(&repo).unwrap();
        let id = r.revparse_single(b).unwrap().id();
        id
    };
    let before = head(&branch);
    let out = run(&[
        "request-changes",
        &change,
        "--comment",
        "Add a test for the endpoint",
        "--send-back",
        "nobody",
    ]);
    assert!(
        stderr_line(&out).contains("nobody"),
        "an unknown agent is named"
    );
    let out = run(&[
        "request-changes",
        &change,
        "--comment",
        "Add a test for the endpoint",
        "--send-back",
        "fake",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("request_changes: "), "{stdout}");
    assert!(stdout.contains("fake agent: committed"), "{stdout}");
    assert_ne!(
        head(&branch),
        before,
        "the agent's new commit is on {branch}"
    );
    let outbox: serde_json::Value =
        serde_json::from_slice(&run(&["outbox", "--json"]).stdout).unwrap();
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "request_changes"),
        "{outbox}"
    );

    // A hanging agent, cancelled from a second process.
    let id = add("Hang");
    let mut hanging = flightdeck(home.path())
        .arg("--database-url")
        .arg(&db)
        .args(["work", "dispatch", &id, "--agent", "stuck"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = hanging.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let first = lines.next().unwrap().unwrap();
    let dispatch = first.split(':').next().unwrap().to_string();
    assert!(dispatch.starts_with("D-"), "{first}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let child: u32 = loop {
        let text = std::fs::read_to_string(&trace).unwrap();
        if let Some(l) = text.lines().find(|l| l.starts_with("child ")) {
            break l[6..].trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the hanging agent never started");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = run(&["work", "cancel", &dispatch]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cancelled"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = hanging.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("cancelled by Alice Lead")),
        "{rest:?}"
    );
    let alive = std::fs::read_to_string(format!("/proc/{child}/stat"))
        .map(|s| !s.contains(") Z"))
        .unwrap_or(false);
    assert!(!alive, "the agent's child {child} was left running");
    let out = run(&["work", "cancel", &dispatch]);
    assert!(stderr_line(&out).contains("already ended"));
}

/// A dispatched agent gets an allow-list of the environment — the basics, its vendor's own API
/// key, what its `env` names — and never the lead's forge token, Flightdeck's tokens or the
/// billing admin keys, even when its `env` asks for one (the config is refused).
#[test]
fn a_dispatched_agent_gets_none_of_the_leads_secrets() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("web");
    new_repo(&repo);
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    let write_config = |env: &str| {
        std::fs::write(
            config.join("config.toml"),
            format!(
                "[sources]\nrepos = [\"{}\"]\n\n[agents.envdump]\nvendor = \"anthropic\"\n\
                 command = [\"sh\", \"-c\", \"env | sort\"]\nenv = [{env}]\n",
                repo.display()
            ),
        )
        .unwrap();
    };
    write_config("\"MY_TOOL_HOME\"");
    let db = home.path().join("fd.db");
    let secrets = [
        ("GH_TOKEN", "ghp_forge_secret"),
        ("GITHUB_TOKEN", "ghs_forge_secret"),
        ("FLIGHTDECK_TOKEN", "fd_api_secret"),
        ("FLIGHTDECK_WEBHOOK_TOKEN", "fd_webhook_secret"),
        ("ANTHROPIC_ADMIN_KEY", "sk-ant-admin-secret"),
        ("OPENAI_ADMIN_KEY", "sk-openai-admin-secret"),
    ];
    let run = |args: &[&str]| {
        let mut c = flightdeck(home.path());
        c.arg("--database-url").arg(&db).args(args);
        for (k, v) in secrets {
            c.env(k, v);
        }
        c.env("ANTHROPIC_API_KEY", "sk-ant-agent-key")
            .env("MY_TOOL_HOME", "/opt/my-tool")
            .env("UNLISTED_VARIABLE", "not-for-agents")
            .output()
            .unwrap()
    };
    let added = ok(&run(&[
        "work",
        "add",
        "Print the environment",
        "--repo",
        repo.to_str().unwrap(),
        "--json",
    ]));
    let w: serde_json::Value = serde_json::from_str(&added).unwrap();
    let out = run(&[
        "work",
        "dispatch",
        w["id"].as_str().unwrap(),
        "--agent",
        "envdump",
    ]);
    let seen = String::from_utf8_lossy(&out.stdout);
    for want in [
        "ANTHROPIC_API_KEY=sk-ant-agent-key",
        "MY_TOOL_HOME=/opt/my-tool",
        "FLIGHTDECK_DISPATCH=",
        "PATH=",
        "HOME=",
    ] {
        assert!(
            seen.contains(want),
            "{want} missing from the agent's environment:\n{seen}"
        );
    }
    for (name, value) in secrets {
        assert!(!seen.contains(value), "{name} reached the agent:\n{seen}");
    }
    assert!(!seen.contains("not-for-agents"), "{seen}");

    write_config("\"GH_TOKEN\"");
    let out = run(&["work", "list"]);
    assert!(!out.status.success());
    let err = stderr_line(&out);
    assert!(
        err.contains("agents.envdump.env") && err.contains("GH_TOKEN"),
        "{err}"
    );
}
