//! Merge policy: each rule's verdict, how the layers stack, errors that name the file and key,
//! and the committed policy read from the base branch (a branch cannot loosen its own rules).

mod support;

use std::path::Path;

use flightdeck_core::domain::policy::{committed_policy, Approval, Facts, PolicyFile, Verdict};
use flightdeck_core::model::{Author, Check};

const NOW: i64 = 1_790_000_000; // 2026-09-21

fn check(name: &str, status: &str, conclusion: Option<&str>) -> Check {
    Check {
        change_request: "cr".into(),
        name: name.into(),
        status: status.into(),
        conclusion: conclusion.map(str::to_string),
        url: None,
        ever_failed: false,
    }
}

fn human(by: &str) -> Approval {
    Approval {
        by: by.into(),
        agent: None,
    }
}

fn agent() -> Author {
    Author::Agent {
        agent: "claude-code".into(),
    }
}

fn policy(toml: &str) -> flightdeck_core::domain::policy::Policy {
    PolicyFile::parse(toml, Path::new("policy.toml"))
        .unwrap()
        .for_repo("acme-api", "/w/acme-api", None)
        .unwrap()
}

fn failures(v: &Verdict) -> Vec<String> {
    v.reasons
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.message.clone())
        .collect()
}

const TEAM: &str = r#"
[default]
required_checks = ["build", "test"]
agent_approvals = 1
max_agent_cost_usd = 25.0

[[default.protected]]
paths = ["migrations/**", "src/billing/**"]
approvals = 2
owners = ["alice"]

[[default.freeze]]
start = "2026-12-20T00:00:00Z"
end = "2027-01-05T00:00:00Z"
reason = "holiday freeze"
"#;

#[test]
fn an_agent_change_needs_green_checks_and_a_human() {
    let p = policy(TEAM);
    let author = agent();
    let paths = vec!["src/lib.rs".to_string()];
    let mut facts = Facts {
        author: &author,
        checks: &[],
        approvals: &[],
        paths: Some(&paths),
        agent_cost_usd: 3.0,
        now: NOW,
    };
    let v = p.judge(&facts);
    assert!(!v.pass);
    assert_eq!(
        failures(&v),
        vec![
            "required check `build` has not run",
            "required check `test` has not run",
            "0 of 1 human approvals an agent-authored change needs",
        ]
    );

    let checks = vec![
        check("build", "completed", Some("success")),
        check("test", "in_progress", None),
    ];
    let approvals = vec![human("bob")];
    facts.checks = &checks;
    facts.approvals = &approvals;
    let v = p.judge(&facts);
    assert_eq!(failures(&v), vec!["required check `test` is still running"]);

    let checks = vec![
        check("build", "completed", Some("success")),
        check("test", "completed", Some("failure")),
    ];
    facts.checks = &checks;
    assert_eq!(
        failures(&p.judge(&facts)),
        vec!["required check `test` failure"]
    );

    let checks = vec![
        check("build", "completed", Some("success")),
        check("test", "completed", Some("skipped")),
    ];
    facts.checks = &checks;
    let v = p.judge(&facts);
    assert!(v.pass, "{:?}", v.reasons);
    assert!(v.policy.contains("policy.toml [default]"), "{}", v.policy);
}

#[test]
fn agents_never_count_as_approvers_least_of_all_of_their_own_work() {
    let p = policy("[default]\nagent_approvals = 1\n");
    let author = agent();
    let approvals = vec![
        Approval {
            by: "claude".into(),
            agent: Some("claude-code".into()),
        },
        Approval {
            by: "codex-bot".into(),
            agent: Some("codex".into()),
        },
    ];
    let facts = Facts {
        author: &author,
        checks: &[],
        approvals: &approvals,
        paths: Some(&[]),
        agent_cost_usd: 0.0,
        now: NOW,
    };
    let v = p.judge(&facts);
    assert!(!v.pass);
    assert_eq!(
        failures(&v),
        vec!["0 of 1 human approvals an agent-authored change needs"]
    );
    let notes: Vec<&str> = v.reasons.iter().map(|r| r.message.as_str()).collect();
    assert!(notes.contains(&"claude approved its own work: not counted"));
    assert!(notes.contains(&"codex-bot is an agent: its approval is not counted"));

    // A person's own approval does not count either, and one person counts once.
    let p = policy("[default]\nhuman_approvals = 1\n");
    let author = Author::Human { name: "bob".into() };
    let approvals = vec![human("bob"), human("bob")];
    let facts = Facts {
        author: &author,
        approvals: &approvals,
        ..facts
    };
    assert!(!p.judge(&facts).pass);
}

#[test]
fn protected_paths_cost_and_freezes() {
    let p = policy(TEAM);
    let author = agent();
    let checks = vec![
        check("build", "completed", Some("success")),
        check("test", "completed", Some("success")),
    ];
    let paths = vec![
        "src/lib.rs".to_string(),
        "migrations/0042_add_index.sql".to_string(),
    ];
    let approvals = vec![human("bob")];
    let mut facts = Facts {
        author: &author,
        checks: &checks,
        approvals: &approvals,
        paths: Some(&paths),
        agent_cost_usd: 31.5,
        now: NOW,
    };
    let v = p.judge(&facts);
    let f = failures(&v);
    assert_eq!(f.len(), 3, "{f:?}");
    assert!(
        f[0].contains("1 protected path") && f[0].contains("1 of 2 approvals"),
        "{f:?}"
    );
    assert!(f[1].ends_with("needs an approval from alice"), "{f:?}");
    assert_eq!(f[2], "agent cost $31.50 of at most $25.00 per change");

    let approvals = vec![human("bob"), human("Alice")];
    facts.approvals = &approvals;
    facts.agent_cost_usd = 12.0;
    let v = p.judge(&facts);
    assert!(v.pass, "{:?}", failures(&v));

    // Files not known (a pull request whose files were not fetched): protected paths are
    // reported unchecked, not passed.
    facts.paths = None;
    let f = failures(&p.judge(&facts));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].contains("protected paths cannot be checked"), "{f:?}");
    facts.paths = Some(&paths);

    // Inside the freeze window everything else passing is not enough.
    facts.now = chrono::DateTime::parse_from_rfc3339("2026-12-24T10:00:00Z")
        .unwrap()
        .timestamp();
    assert_eq!(
        failures(&p.judge(&facts)),
        vec!["holiday freeze until 2027-01-05 00:00 UTC"]
    );
}

#[test]
fn layers_stack_field_by_field() {
    let file = PolicyFile::parse(
        "[default]\nrequired_checks = [\"build\"]\nmax_agent_cost_usd = 10.0\n\n[repo.\"acme-api\"]\nagent_approvals = 2\n",
        Path::new("/cfg/policy.toml"),
    )
    .unwrap();
    let p = file.for_repo("acme-api", "/w/acme-api", None).unwrap();
    assert_eq!(p.required_checks, vec!["build"]);
    assert_eq!(p.agent_approvals, 2);
    assert_eq!(p.max_agent_cost_usd, Some(10.0));
    assert!(p.source.contains("[repo.\"acme-api\"]"), "{}", p.source);
    // Another repo gets the default; a repo with nothing at all gets the built-in one.
    let other = file.for_repo("web", "/w/web", None).unwrap();
    assert_eq!(other.agent_approvals, 1);
    let none = PolicyFile::load(Path::new("/nonexistent/policy.toml"))
        .unwrap()
        .for_repo("web", "/w/web", None)
        .unwrap();
    assert!(none.required_checks.is_empty());
    assert_eq!((none.agent_approvals, none.human_approvals), (1, 0));
}

#[test]
fn bad_policies_name_file_line_and_key() {
    let err = PolicyFile::parse(
        "[default]\nrequired_checks = [\"build\"]\nagent_aprovals = 2\n",
        Path::new("/cfg/policy.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("/cfg/policy.toml:3:"), "{err}");
    assert!(err.contains("agent_aprovals"), "{err}");

    let file = PolicyFile::parse(
        "[[default.protected]]\npaths = [\"src/[oops\"]\n",
        Path::new("/cfg/policy.toml"),
    )
    .unwrap();
    let err = file.for_repo("a", "/w/a", None).unwrap_err().to_string();
    assert!(
        err.contains("protected[0].paths") && err.contains("src/[oops"),
        "{err}"
    );

    let file = PolicyFile::parse(
        "[[default.freeze]]\nstart = \"Dec 20\"\nend = \"2027-01-05T00:00:00Z\"\n",
        Path::new("/cfg/policy.toml"),
    )
    .unwrap();
    let err = file.for_repo("a", "/w/a", None).unwrap_err().to_string();
    assert!(
        err.contains("freeze[0].start") && err.contains("RFC 3339"),
        "{err}"
    );
}

fn commit_file(repo: &git2::Repository, branch: &str, path: &str, body: &str) {
    support::commit_file(repo, branch, path, body, "policy");
}

#[test]
fn the_committed_policy_comes_from_the_base_branch() {
    let dir = tempfile::tempdir().unwrap();
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(dir.path(), &init).unwrap();
    assert_eq!(committed_policy(dir.path(), "main").unwrap(), None);

    commit_file(
        &repo,
        "main",
        ".flightdeck/policy.toml",
        "agent_approvals = 2\nrequired_checks = [\"ci\"]\n",
    );
    // The agent's branch tries to loosen the rules it will be judged by.
    commit_file(
        &repo,
        "claude/loosen",
        ".flightdeck/policy.toml",
        "agent_approvals = 0\n",
    );

    let committed = committed_policy(dir.path(), "main").unwrap().unwrap();
    assert_eq!(committed.raw.agent_approvals, Some(2));
    let file = PolicyFile::parse(
        "[default]\nmax_agent_cost_usd = 5.0\nagent_approvals = 1\n",
        Path::new("/cfg/policy.toml"),
    )
    .unwrap();
    let p = file
        .for_repo("app", &dir.path().display().to_string(), Some(&committed))
        .unwrap();
    assert_eq!(p.agent_approvals, 2);
    assert_eq!(p.required_checks, vec!["ci"]);
    assert_eq!(p.max_agent_cost_usd, Some(5.0));
    assert_eq!(
        p.source,
        "/cfg/policy.toml [default], tightened by .flightdeck/policy.toml on main"
    );

    // The lead's policy is a floor: a committed file that would loosen it (as one merged agent
    // change could) only adds what is stricter.
    let lead = PolicyFile::parse(
        "[default]\nrequired_checks = [\"build\"]\nmax_agent_cost_usd = 5.0\n\
         [[default.protected]]\npaths = [\"migrations/**\"]\napprovals = 2\n",
        Path::new("/cfg/policy.toml"),
    )
    .unwrap();
    let loose = flightdeck_core::domain::policy::CommittedPolicy {
        base: "main".into(),
        raw: toml::from_str(
            "agent_approvals = 0\nhuman_approvals = 1\nmax_agent_cost_usd = 500.0\n\
             required_checks = [\"lint\"]\nprotected = []\n",
        )
        .unwrap(),
    };
    let p = lead
        .for_repo("app", &dir.path().display().to_string(), Some(&loose))
        .unwrap();
    assert_eq!(p.agent_approvals, 1, "the built-in floor stays");
    assert_eq!(p.human_approvals, 1, "stricter: taken");
    assert_eq!(p.max_agent_cost_usd, Some(5.0));
    assert_eq!(p.required_checks, vec!["build", "lint"]);
    let patterns: Vec<&[String]> = p.protected.iter().map(|r| r.patterns.as_slice()).collect();
    assert_eq!(
        patterns,
        [
            &["migrations/**".to_string()][..],
            &[".flightdeck/policy.toml".to_string()][..]
        ]
    );
    // And a change to the committed file itself needs a person's approval.
    let author = agent();
    let paths = vec![".flightdeck/policy.toml".to_string()];
    let checks = vec![
        check("build", "completed", Some("success")),
        check("lint", "completed", Some("success")),
    ];
    let facts = Facts {
        author: &author,
        checks: &checks,
        approvals: &[human("bob")],
        paths: Some(&paths),
        agent_cost_usd: 0.0,
        now: NOW,
    };
    assert!(p.judge(&facts).pass, "{:?}", failures(&p.judge(&facts)));
    let facts = Facts {
        approvals: &[],
        ..facts
    };
    let f = failures(&p.judge(&facts));
    assert!(f.iter().any(|m| m.contains("1 protected path")), "{f:?}");

    // A broken committed policy names the file, the branch and the line.
    commit_file(
        &repo,
        "main",
        ".flightdeck/policy.toml",
        "agent_approvals = \"two\"\n",
    );
    let err = committed_policy(dir.path(), "main")
        .unwrap_err()
        .to_string();
    assert!(err.contains(".flightdeck/policy.toml (main):1:"), "{err}");
}
