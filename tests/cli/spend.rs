//! Spend: reports and prices, budgets, vendor billing sync, fixed costs.

use super::*;

/// Spend from the terminal: the user's prices from the config file (a mid-month change, a
/// discount) price the logs; `report spend` groups, as CSV and JSON, with unpriced usage apart;
/// `prices check` names the model without a price (exit 1); `prices list` shows the change.
#[test]
fn spend_reports_and_prices_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let claude = home.path().join("claude");
    let project = claude.join("projects/-w");
    std::fs::create_dir_all(&project).unwrap();
    let line = |i: usize, day: &str, model: &str| {
        serde_json::json!({
            "type": "assistant", "sessionId": "s1", "cwd": "/w",
            "timestamp": format!("{day}T10:00:{i:02}.000Z"), "requestId": format!("req_{i}"),
            "message": {"id": format!("msg_{i}"), "model": model, "role": "assistant",
                "content": [{"type": "text", "text": "ok"}],
                "usage": {"input_tokens": 1000, "output_tokens": 2000,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
        })
        .to_string()
    };
    let lines = [
        line(1, "2026-11-14", "claude-sonnet-4-5"),
        line(2, "2026-11-16", "claude-sonnet-4-5"),
        line(3, "2026-11-16", "gpt-5"),
        line(4, "2026-11-16", "mystery-model-9"),
    ];
    std::fs::write(project.join("s1.jsonl"), lines.join("\n") + "\n").unwrap();
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[prices.models.\"claude-sonnet-4-5\"]\nfrom = \"2026-11-15\"\ninput = 2e-6\n\
         output = 1e-5\ncache_write = 2.5e-6\ncache_read = 2e-7\n\
         [prices.discounts]\nopenai = 0.5\n",
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let out = run(&["ingest", "--claude-dir", claude.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // By hand: sonnet 1000×3e-6 + 2000×1.5e-5 = 0.033 on the 14th, 1000×2e-6 + 2000×1e-5 =
    // 0.022 on the 16th; gpt-5 (1000×1.25e-6 + 2000×1e-5) × 0.5 = 0.010625.
    let out = run(&["report", "spend", "--by", "model", "--csv"]);
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("key,cost_usd,share,unpriced_tokens,input,output,cache_write,cache_read,reasoning")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let row = |k: &str| {
        rows.iter()
            .find(|r| r[0] == k)
            .unwrap_or_else(|| panic!("{k}: {csv}"))
    };
    assert_eq!(row("claude-sonnet-4-5")[1], "0.055000");
    assert_eq!(row("gpt-5")[1], "0.010625");
    assert_eq!(
        (row("mystery-model-9")[1], row("mystery-model-9")[3]),
        ("0.000000", "3000")
    );
    assert_eq!(row("total")[1], "0.065625");

    let out = run(&[
        "report",
        "spend",
        "--by",
        "week",
        "--json",
        "--since",
        "2026-11-15",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["rows"][0]["key"], "2026-11-16",
        "the ISO week of the 16th starts that Monday"
    );
    assert!(
        (v["total"]["cost_usd"].as_f64().unwrap() - 0.032625).abs() < 1e-9,
        "{v}"
    );
    assert_eq!(v["unpriced_models"], serde_json::json!(["mystery-model-9"]));
    let out = run(&["report", "spend", "--by", "vendor"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("anthropic") && text.contains("unpriced (usage counted"),
        "{text}"
    );
    let out = run(&["report", "spend", "--since", "Nov 3"]);
    assert!(stderr_line(&out).contains("not a date"));

    // Concentration: anthropic 0.055 against openai 0.010625.
    let out = run(&[
        "report",
        "concentration",
        "--since",
        "2026-11-01",
        "--down",
        "openai",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (a, o) = (0.055 / 0.065625 * 100.0, 0.010625 / 0.065625 * 100.0);
    let hhi = v["concentration"]["hhi_spend"].as_f64().unwrap();
    assert!((hhi - (a * a + o * o)).abs() < 1e-6, "{v}");
    assert_eq!(v["concentration"]["over"], true, "default threshold 5,000");
    assert_eq!(v["down"]["vendor"], "openai");
    let out = run(&["report", "concentration"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("spend by vendor:"));

    let out = run(&["report", "value", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["merged_changes"], 0, "{v}");
    assert!(
        v["cost_per_merged_change"].is_null(),
        "no figure rather than a zero: {v}"
    );
    let out = run(&["report", "value", "--since", "yesterday"]);
    assert!(stderr_line(&out).contains("not a date"));

    let out = run(&["prices", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains(
            "mystery-model-9: no price — 3000 tokens in 1 requests, 2026-11-16 to 2026-11-16"
        ),
        "{text}"
    );
    let out = run(&["prices", "list"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let sonnet: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("claude-sonnet-4-5 "))
        .collect();
    assert_eq!(sonnet.len(), 2, "{text}");
    assert!(
        sonnet[1].contains("2026-11-15") && sonnet[1].contains("2.000"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("gpt-5 ") && l.trim_end().ends_with("50%")),
        "{text}"
    );
}

/// Budgets from the terminal: spend logged today passes every threshold of a small team
/// budget, each reported once however often the budget is set or the logs are read again.
#[test]
fn budgets_from_the_terminal_fire_each_threshold_once() {
    let home = tempfile::tempdir().unwrap();
    let claude = home.path().join("claude");
    let project = claude.join("projects/-w");
    std::fs::create_dir_all(&project).unwrap();
    let now = chrono::Utc::now();
    let line = serde_json::json!({
        "type": "assistant", "sessionId": "s1", "cwd": "/w",
        "timestamp": now.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(), "requestId": "req_1",
        "message": {"id": "msg_1", "model": "claude-sonnet-4-5", "role": "assistant",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 1000, "output_tokens": 2000,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    });
    std::fs::write(project.join("s1.jsonl"), format!("{line}\n")).unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    let stdout = |o: &Output| String::from_utf8_lossy(&o.stdout).to_string();
    let ingest = ["ingest", "--claude-dir", claude.to_str().unwrap()];
    assert!(run(&ingest).status.success());
    // $0.033 spent; a $0.03 budget is past 50, 80 and 100 %.
    let text = stdout(&run(&["budget", "set", "team", "0.03"]));
    assert!(text.starts_with("budget team: $0.03 a month"), "{text}");
    for t in ["50 % reached", "80 % reached", "100 % reached"] {
        assert_eq!(text.matches(t).count(), 1, "{text}");
    }
    let again = stdout(&run(&["budget", "set", "team", "0.03"]));
    assert!(!again.contains("reached"), "{again}");
    assert!(run(&ingest).status.success());
    let list: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["budget", "list", "--json"]))).unwrap();
    assert_eq!(list[0]["fired"], serde_json::json!([50, 80, 100]));
    assert!((list[0]["spent_usd"].as_f64().unwrap() - 0.033).abs() < 1e-9);
    let out = run(&["budget", "set", "repo", "10"]);
    assert!(
        stderr_line(&out).contains("needs a target"),
        "{}",
        stderr_line(&out)
    );
    assert!(run(&["budget", "remove", "team"]).status.success());
    let out = run(&["budget", "remove", "team"]);
    assert!(stderr_line(&out).contains("no budget `team`"));
}

/// Vendor billing from the terminal against the local fakes: the admin key from the
/// environment, `billing sync` reads what was billed, a vendor without a key is named, a
/// refused key fails the command; `report reconcile` puts billed beside log-derived cost.
#[test]
fn billing_sync_and_reconcile_from_the_terminal() {
    use fakehub::billing::Billing;
    let home = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = Billing::new("sk-ant-admin-t", "unused");
    let today = chrono::Utc::now().date_naive();
    fake.add_anthropic(today, "claude-sonnet-4-5", "output_tokens", "250.5");
    let url = rt.block_on(fake.serve(0)).unwrap();
    let db = home.path().join("fd.db");
    let run = |key: &str, args: &[&str]| {
        flightdeck(home.path())
            .arg("--database-url")
            .arg(&db)
            .args(args)
            .env("ANTHROPIC_ADMIN_KEY", key)
            .env_remove("OPENAI_ADMIN_KEY")
            .env("FLIGHTDECK_ANTHROPIC_API", &url)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .output()
            .unwrap()
    };
    let out = run("sk-ant-admin-t", &["billing", "sync"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("anthropic:") && text.contains(": 1 lines, $"),
        "{text}"
    );
    assert!(text.contains("openai: no admin key"), "{text}");
    let out = run("sk-ant-admin-WRONG", &["billing", "sync"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("admin key was refused") && !err.contains("WRONG"),
        "{err}"
    );
    let day = today.to_string();
    let out = run(
        "x",
        &[
            "report",
            "reconcile",
            "--since",
            &day,
            "--until",
            &day,
            "--json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["vendor"], "anthropic");
    assert!(
        (rows[0]["billed_usd"].as_f64().unwrap() - 2.505).abs() < 1e-9,
        "{rows}"
    );
    assert!(
        (rows[0]["gap_usd"].as_f64().unwrap() - 2.505).abs() < 1e-9,
        "nothing in logs"
    );
}

/// Fixed costs from the terminal: a CSV with one bad row (named, skipped, exit 1), one added by
/// hand, listed, and counted by `report spend`.
#[test]
fn fixed_costs_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let csv = home.path().join("seats.csv");
    std::fs::write(
        &csv,
        "month,vendor,description,amount_usd\n2026-11,anthropic,\"Team, 5 seats\",150\n2026-11,openai,Business,abc\n",
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    // A team budget this month's seats will pass: the import fires its alerts at once.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let text = std::fs::read_to_string(&csv)
        .unwrap()
        .replace("2026-11", &month);
    std::fs::write(&csv, text).unwrap();
    assert!(run(&["budget", "set", "team", "200"]).status.success());
    let out = run(&["costs", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("budget team: 50 % reached") && !said.contains("80 %"),
        "{said}"
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("seats.csv:3: amount_usd `abc` is not a number"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 fixed costs ($150.00)"));
    let out = run(&[
        "costs",
        "add",
        "--vendor",
        "cursor",
        "--month",
        "2026-11",
        "--amount-usd",
        "40",
        "--description",
        "Pro seats",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "costs",
        "add",
        "--vendor",
        "cursor",
        "--month",
        "Nov",
        "--amount-usd",
        "40",
    ]);
    assert!(
        stderr_line(&out).contains("month `Nov` is not YYYY-MM"),
        "{}",
        stderr_line(&out)
    );
    let list = String::from_utf8_lossy(&run(&["costs", "list"]).stdout).to_string();
    assert!(
        list.contains("Team, 5 seats") && list.contains("Pro seats"),
        "{list}"
    );
    let out = run(&["report", "spend", "--by", "vendor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"]["cost_usd"], 190.0, "{v}");
}
