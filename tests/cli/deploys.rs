//! Deploys, releases and DORA from a pipeline's and a lead's terminal.

use super::*;

/// `deploy record` from a pipeline's point of view, `deploy show` with what it shipped, and
/// `report dora` in its formats; bad input named.
#[test]
fn deploys_and_dora_from_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("api");
    let repo = new_repo(&path);
    let first = repo
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();
    commit_on(&repo, "main", "b.txt", "Second");
    // An agent's branch on top: the deploy below ships it.
    commit_on(&repo, "claude/limits", "c.txt", "Add limits");
    let config = home.path().join("config/flightdeck");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!("[sources]\nrepos = [\"{}\"]\n", path.display()),
    )
    .unwrap();
    let db = home.path().join("fd.db");
    let run = |args: &[&str]| with_db(home.path(), &db, args);
    ok(&run(&[
        "deploy",
        "record",
        "--env",
        "production",
        "--sha",
        &first[..10],
        "--status",
        "success",
        "--at",
        "2026-11-20T10:00:00Z",
        "--id",
        "d1",
    ]));
    let text = ok(&run(&[
        "deploy",
        "record",
        "--env",
        "production",
        "--sha",
        "claude/limits",
        "--status",
        "failure",
        "--at",
        "1795259000",
        "--id",
        "d2",
    ]));
    assert!(text.contains("d2") && text.contains("failure"), "{text}");
    let shown = ok(&run(&["deploy", "show", "d2"]));
    assert!(
        shown.contains("since d1") && shown.contains("Second"),
        "{shown}"
    );
    // The agent's change it shipped: who wrote it, reviews, checks, cost and the verdict (the
    // built-in policy wants a human approval of agent work).
    let change = shown
        .lines()
        .find(|l| l.contains("change local:") && l.contains("claude/limits"))
        .unwrap_or_else(|| panic!("no change line: {shown}"));
    assert!(
        change.contains("by agent")
            && change.contains("reviews: none")
            && change.contains("checks: 0 of 0 failing")
            && change.contains("agent cost $0.00")
            && change.contains("policy: blocked (0 of 1 human approvals"),
        "{change}"
    );
    assert!(
        !shown.contains("Initial commit"),
        "shipped by d1 already: {shown}"
    );

    // The DORA keys of the week, in a format.
    let week_as = |format: &str| {
        ok(&run(&[
            "report",
            "dora",
            "--since",
            "2026-11-19",
            "--until",
            "2026-11-25",
            format,
        ]))
    };
    let week = || -> serde_json::Value { serde_json::from_str(&week_as("--json")).unwrap() };
    let d = week();
    assert_eq!(d["deploys"], 1);
    assert_eq!(d["failed_deploys"], 1);
    assert_eq!(d["change_failure_rate"], 0.5);
    let md = week_as("--md");
    assert!(md.contains("| change failure rate | 50.0 % |"), "{md}");
    // CSV as RFC 4180: the failure rate's cases hold commas, so they are quoted; CRLF ends.
    let csv_text = week_as("--csv");
    assert!(csv_text.ends_with("\r\n"), "{csv_text:?}");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(csv_text.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let failure = records
        .iter()
        .find(|r| &r[0] == "change failure rate")
        .unwrap_or_else(|| panic!("{csv_text}"));
    assert_eq!(failure.len(), 3);
    assert!(failure[2].contains(", "), "{csv_text}");

    // A pager's incident after d1 (d2 failed by itself): recorded, listed, then resolved by
    // its id; d1 now counts as failed too.
    let text = ok(&run(&[
        "incident",
        "record",
        "--title",
        "Checkout 5xx",
        "--opened",
        "2026-11-20T11:00:00Z",
        "--id",
        "PD-3",
    ]));
    assert!(text.contains("ext:PD-3") && text.contains("open"), "{text}");
    ok(&run(&[
        "incident",
        "record",
        "--title",
        "Checkout 5xx",
        "--closed",
        "2026-11-20T11:40:00Z",
        "--id",
        "PD-3",
    ]));
    let listed = ok(&run(&["incident", "list"]));
    assert!(
        listed.contains("ext:PD-3") && listed.contains("closed 2026-11-20 11:40"),
        "{listed}"
    );
    let d = week();
    assert_eq!(
        (d["failed_deploys"].as_i64(), d["incident_issues"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(d["time_to_restore"]["median_secs"], 40 * 60);
    let out = run(&["incident", "record", "--title", "x", "--opened", "soon"]);
    assert!(stderr_line(&out).contains("--opened `soon`"));

    let out = run(&[
        "deploy",
        "record",
        "--env",
        "production",
        "--sha",
        "main",
        "--status",
        "success",
        "--at",
        "yesterday",
    ]);
    assert!(stderr_line(&out).contains("--at `yesterday`"));
    let out = run(&[
        "deploy",
        "record",
        "--env",
        "production",
        "--sha",
        "deadbeef",
        "--status",
        "success",
    ]);
    assert!(stderr_line(&out).contains("`deadbeef` is not a commit"));
    let out = run(&["report", "dora", "--since", "2026-13-01"]);
    assert!(stderr_line(&out).contains("--since `2026-13-01`"));
    let v: serde_json::Value =
        serde_json::from_str(&ok(&run(&["report", "velocity", "--json"]))).unwrap();
    assert_eq!(v["split"][0]["kind"], "agent");
    assert_eq!(v["split"][1]["kind"], "human");
    let phases: Vec<&str> = v["cycle"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(phases, ["coding", "pickup", "review", "deploy", "merge"]);
    let md = ok(&run(&["report", "velocity", "--md"]));
    assert!(md.starts_with("| who | opened |"), "{md}");
    assert!(
        md.contains("| phase | changes | all | agents | people |"),
        "{md}"
    );

    // The weekly page: the week's DORA numbers and three inline charts, no outside files.
    let page = home.path().join("week.html");
    let out = ok(&run(&[
        "report",
        "weekly",
        "--until",
        "2026-11-24",
        "--out",
        page.to_str().unwrap(),
    ]));
    assert!(out.contains("week.html"), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("2026-11-18 to 2026-11-24"), "{html}");
    assert!(html.contains("data-section=\"dora\""));
    // Both deploys failed: d2 by its status, d1 by the pager's incident.
    assert!(html.contains("Change failure rate<b>100 %</b>"), "{html}");
    assert!(html.contains("incidents reported: 1"), "{html}");
    assert_eq!(html.matches("<svg").count(), 3, "{html}");
    assert!(!html.contains("src=\"http") && !html.contains("<link"));
    let out = run(&["report", "weekly", "--out", "/nonexistent/dir/w.html"]);
    assert!(stderr_line(&out).contains("/nonexistent/dir/w.html"));
    let out = run(&[
        "report",
        "velocity",
        "--since",
        "2026-11-20",
        "--until",
        "2026-11-19",
    ]);
    assert!(stderr_line(&out).contains("--since must come before --until"));
}
