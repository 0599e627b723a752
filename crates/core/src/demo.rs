//! The demo workspace: three real git repositories with months of human and agent history,
//! agent branches ahead of main (one checked out in a linked worktree), and Claude Code and
//! Codex CLI session logs in their real on-disk formats that match those branches.
//!
//! The demo is loaded through the same `ingest` path as a user's own data. Only what has no
//! source yet (deployments, releases, experiments) is written straight to the store by
//! `seed_unsourced`, and each such record says `source = "demo"`.
//!
//! Everything is derived from a fixed seed and the `now` passed in, so two builds at the same
//! `now` are identical, and the history always ends "today".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use git2::{BranchType, IndexAddOption, Repository, Signature, Time, WorktreeAddOptions};
use serde_json::json;

use crate::domain::ingest::Sources;
use crate::model::error::{Error, Result};
use crate::model::{Contents, ExperimentState, WorkLinkKind, WorkSource};
use crate::model::{
    DeployStatus, Deployment, Experiment, Release, ReleaseState, ReviewState, Variant, WorkState,
};
use crate::store::Store;

const MARKER: &str = ".flightdeck-demo";
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The demo team's merge rules: every agent change needs a person's approval and stays under
/// $2 of agent time; in acme-api, auth code and migrations need two approvals, one by Alice.
const DEMO_POLICY: &str = r#"# Merge policy of the demo workspace (see README, "Merge policy").
[default]
agent_approvals = 1
max_agent_cost_usd = 2.0

[[repo."acme-api".protected]]
paths = ["src/auth/**", "migrations/**"]
approvals = 2
owners = ["Alice Martin"]
"#;

#[derive(Debug, Clone)]
pub struct DemoWorkspace {
    pub root: PathBuf,
    pub repos: Vec<PathBuf>,
    pub worktree: PathBuf,
    pub claude_dir: PathBuf,
    pub codex_home: PathBuf,
    /// The agent branches of the last month (clone, branch), open when the demo's first ingest
    /// reads them; `land` deletes them, as the team did once each was squash-merged or dropped.
    pub landed: Vec<(PathBuf, String)>,
}

/// The stand-in agent the demo dispatches to (the same script the dispatch tests use): it
/// edits, commits and writes a Claude Code session log, without a model.
const FAKE_AGENT: &str = include_str!("../assets/fake-agent.sh");

impl DemoWorkspace {
    /// The demo's agents, in place of the user's (the demo never starts a real, billed agent):
    /// `claude` works for a few seconds and commits; `slowpoke` waits for its model until it
    /// is cancelled.
    pub fn agents(&self) -> std::collections::BTreeMap<String, crate::domain::work::AgentConfig> {
        let agent = |mode: &str, concurrency| crate::domain::work::AgentConfig {
            vendor: Some("anthropic".into()),
            model: Some("claude-sonnet-4-5".into()),
            command: vec![
                "bash".into(),
                self.root.join("bin/fake-agent.sh").display().to_string(),
                mode.into(),
                self.claude_dir.display().to_string(),
                self.root.join("agent-trace").display().to_string(),
                "--".into(),
                "{prompt}".into(),
            ],
            concurrency: Some(concurrency),
            env: Vec::new(),
        };
        [("claude", agent("slow", 2)), ("slowpoke", agent("hang", 1))]
            .into_iter()
            .map(|(n, a)| (n.to_string(), a))
            .collect()
    }

    /// The demo's merge policy file.
    pub fn policy_file(&self) -> PathBuf {
        self.root.join("policy.toml")
    }

    pub fn sources(&self) -> Sources {
        Sources {
            repos: self.repos.clone(),
            claude_dirs: vec![self.claude_dir.clone()],
            codex_homes: vec![self.codex_home.clone()],
            gemini_dirs: Vec::new(),
            generic_dirs: Vec::new(),
            only_log_files: None,
            prices: Default::default(),
            concentration_threshold: None,
            person: "demo".into(),
        }
    }
}

/// Small deterministic generator (xorshift64*), so the demo needs no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }
}

struct RepoPlan {
    name: &'static str,
    files: &'static [&'static str],
    topics: &'static [&'static str],
    branches: &'static [(&'static str, &'static [&'static str])],
}

const PLANS: &[RepoPlan] = &[
    RepoPlan {
        name: "acme-api",
        files: &[
            "src/lib.rs",
            "src/routes.rs",
            "src/db.rs",
            "src/auth.rs",
            "README.md",
        ],
        topics: &[
            "routes",
            "db pool",
            "auth tokens",
            "error handling",
            "pagination",
            "logging",
            "config",
        ],
        branches: &[
            (
                "claude/add-rate-limiting",
                &[
                    "Add token-bucket rate limiter",
                    "Wire rate limiter into routes",
                    "Test rate limiter under burst load",
                ],
            ),
            (
                "codex/fix-pagination-cursor",
                &[
                    "Fix off-by-one in pagination cursor",
                    "Cover empty last page in tests",
                ],
            ),
        ],
    },
    RepoPlan {
        name: "acme-web",
        files: &[
            "src/App.tsx",
            "src/api.ts",
            "src/theme.css",
            "src/Settings.tsx",
            "package.json",
        ],
        topics: &[
            "settings page",
            "api client",
            "theme",
            "navigation",
            "forms",
            "accessibility",
        ],
        branches: &[
            (
                "claude/dark-mode-toggle",
                &["Add dark mode toggle to settings", "Persist theme choice"],
            ),
            (
                "agent/upgrade-router",
                &["Upgrade router and fix breaking imports"],
            ),
        ],
    },
    RepoPlan {
        name: "billing-service",
        files: &[
            "billing/invoice.py",
            "billing/webhooks.py",
            "billing/tax.py",
            "tests/test_invoice.py",
            "pyproject.toml",
        ],
        topics: &[
            "invoice totals",
            "webhooks",
            "tax rules",
            "currency rounding",
            "retries",
            "idempotency keys",
        ],
        branches: &[
            (
                "codex/retry-failed-webhooks",
                &[
                    "Retry failed webhooks with backoff",
                    "Store webhook attempts",
                    "Add dead-letter queue for webhooks",
                    "Document webhook retry policy",
                ],
            ),
            (
                "claude/invoice-rounding",
                &["Round invoice lines half-even"],
            ),
        ],
    },
];

/// The experiments' flags the demo's repos put in code, by repo (see `experiments`).
const DEMO_FLAGS: &[&str] = &["agent_pr_template_enabled", "checkout_cta_enabled"];

const HUMANS: &[(&str, &str)] = &[
    ("Alice Martin", "alice@acme.dev"),
    ("Bob Chen", "bob@acme.dev"),
    ("Carol Diaz", "carol@acme.dev"),
    ("Dev Patel", "dev@acme.dev"),
];

/// Builds the workspace under `root` (created if missing). A folder that holds anything but a
/// previous demo is refused rather than overwritten.
pub fn build(root: &Path, now: i64) -> Result<DemoWorkspace> {
    prepare_root(root)?;
    let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
    let claude_dir = root.join("claude");
    let codex_home = root.join("codex");
    let mut rng = Rng(0x5eed_f11e_d0c0_ffee);
    let mut repos = Vec::new();
    let mut landed = Vec::new();
    let mut worktree = PathBuf::new();
    let mut logs = LogWriter {
        claude_dir: claude_dir.clone(),
        codex_home: codex_home.clone(),
        n: 0,
    };
    for (i, plan) in PLANS.iter().enumerate() {
        let path = root.join("repos").join(plan.name);
        let (repo_sessions, wt, branches) = build_repo(&path, plan, i, now, &mut rng)?;
        landed.extend(branches.into_iter().map(|b| (path.clone(), b)));
        for s in repo_sessions {
            logs.write(&s, &mut rng)?;
        }
        if let Some(wt) = wt {
            worktree = wt;
        }
        repos.push(path);
    }
    std::fs::write(root.join(MARKER), "built by `flightdeck demo`\n")
        .map_err(|e| Error::io(root.join(MARKER), e))?;
    let policy = root.join("policy.toml");
    std::fs::write(&policy, DEMO_POLICY).map_err(|e| Error::io(&policy, e))?;
    let agent = root.join("bin").join("fake-agent.sh");
    std::fs::create_dir_all(root.join("bin")).map_err(|e| Error::io(root.join("bin"), e))?;
    std::fs::write(&agent, FAKE_AGENT).map_err(|e| Error::io(&agent, e))?;
    Ok(DemoWorkspace {
        root,
        repos,
        worktree,
        claude_dir,
        codex_home,
        landed,
    })
}

fn prepare_root(root: &Path) -> Result<()> {
    if root.exists() {
        let empty = std::fs::read_dir(root)
            .map_err(|e| Error::io(root, e))?
            .next()
            .is_none();
        if !empty && !root.join(MARKER).exists() {
            return Err(Error::Invalid {
                path: root.to_path_buf(),
                message:
                    "folder is not empty and is not a Flightdeck demo; pass an empty or new --dir"
                        .into(),
            });
        }
        for sub in ["repos", "worktrees", "claude", "codex"] {
            let p = root.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        // A rebuilt demo starts from an empty database too (its own, beside the repos).
        for f in ["flightdeck.db", "flightdeck.db-wal", "flightdeck.db-shm"] {
            let p = root.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
    }
    std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))
}

/// An agent session to write as a log: which agent, where, when, and what it did.
struct SessionPlan {
    agent: &'static str,
    cwd: PathBuf,
    branch: String,
    prompt: String,
    start: i64,
    turns: usize,
    /// A log that is still being written: its last line is at `end`, just before "now".
    live: bool,
    /// The session ended its last turn with a question twenty minutes ago: it needs its user.
    waiting: bool,
    end: i64,
}

fn sig(name: &str, email: &str, at: i64) -> Result<Signature<'static>> {
    Signature::new(name, email, &Time::new(at, 0)).map_err(|e| Error::git(name, e))
}

fn commit_all(
    repo: &Repository,
    path: &Path,
    author: &Signature,
    message: &str,
) -> Result<git2::Oid> {
    let git = |e| Error::git(path, e);
    let mut index = repo.index().map_err(git)?;
    index
        .add_all(["*"].iter(), IndexAddOption::DEFAULT, None)
        .map_err(git)?;
    index.write().map_err(git)?;
    let tree = repo
        .find_tree(index.write_tree().map_err(git)?)
        .map_err(git)?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), author, author, message, &tree, &parents)
        .map_err(git)
}

fn touch(path: &Path, file: &str, line: &str) -> Result<()> {
    let p = path.join(file);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut text = std::fs::read_to_string(&p).unwrap_or_default();
    text.push_str(line);
    text.push('\n');
    std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
}

fn build_repo(
    path: &Path,
    plan: &RepoPlan,
    idx: usize,
    now: i64,
    rng: &mut Rng,
) -> Result<(Vec<SessionPlan>, Option<PathBuf>, Vec<String>)> {
    let git = |e| Error::git(path, e);
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = Repository::init_opts(path, &init).map_err(git)?;
    repo.remote("origin", &format!("git@github.com:acme/{}.git", plan.name))
        .map_err(git)?;
    let mut sessions = Vec::new();
    let mut landed = Vec::new();
    let days = 150;
    let start = now - days * DAY;
    let first = sig(HUMANS[idx].0, HUMANS[idx].1, start)?;
    for f in plan.files {
        touch(path, f, &format!("// {} — {f}", plan.name))?;
    }
    commit_all(&repo, path, &first, "Initial commit")?;

    // History on main: agents take a growing share over the months, as teams adopt them.
    let mut flagged = false;
    let mut t = start + 3_600;
    let mut n = 0;
    while t < now - 2 * DAY {
        t += 4 * 3_600 + rng.below(30 * 3_600) as i64;
        if t >= now - 2 * DAY {
            break;
        }
        n += 1;
        let progress = (t - start) as f64 / (days * DAY) as f64;
        let agent_roll = rng.below(100) as f64 / 100.0;
        let human = HUMANS[rng.below(HUMANS.len() as u64) as usize];
        let topic = plan.topics[rng.below(plan.topics.len() as u64) as usize];
        let file = plan.files[rng.below(plan.files.len() as u64) as usize];
        for k in 0..(1 + rng.below(6)) {
            touch(path, file, &format!("// change {n}.{k}: {topic}"))?;
        }
        let (message, agent) = if agent_roll < 0.15 + 0.55 * progress {
            let agent = if rng.below(3) == 0 {
                "codex"
            } else {
                "claude-code"
            };
            let trailer = if agent == "codex" {
                "Co-Authored-By: Codex <codex@openai.com>"
            } else {
                "Co-Authored-By: Claude <noreply@anthropic.com>"
            };
            (
                format!(
                    "Improve {topic} (#{n})\n\nAgent-written, reviewed by {}.\n\n{trailer}\n",
                    human.0
                ),
                Some(agent),
            )
        } else {
            (format!("Update {topic} (#{n})\n"), None)
        };
        // The first agent change of the last month in acme-api and acme-web puts an
        // experiment's flag in code: what links the demo's experiments to the changes, runs
        // and deploys behind them.
        if agent.is_some() && t > now - 30 * DAY && !flagged {
            if let Some(flag) = DEMO_FLAGS.get(idx) {
                touch(
                    path,
                    file,
                    &format!("if flags.is_on(\"{flag}\") {{ /* {topic} */ }}"),
                )?;
                flagged = true;
            }
        }
        let author = sig(human.0, human.1, t)?;
        let before = repo.head().map_err(git)?.peel_to_commit().map_err(git)?;
        let squash = commit_all(&repo, path, &author, &message)?;
        // The last month of agent work left session logs behind, and was done on an agent
        // branch that was squash-merged into main (the commit above, as GitHub squashes) and
        // deleted; one task in eight was dropped instead, and main never got it. Flightdeck
        // saw the branches while they were open (see `land`).
        if let Some(agent) = agent.filter(|_| t > now - 30 * DAY) {
            let prefix = if agent == "codex" { "codex" } else { "claude" };
            let branch = format!("{prefix}/{}-{n}", slug(topic));
            let done = repo.find_commit(squash).map_err(git)?;
            let worked = sig(human.0, human.1, t - 900)?;
            let work = repo
                .commit(
                    None,
                    &worked,
                    &worked,
                    &message.replace(&format!(" (#{n})"), ""),
                    &done.tree().map_err(git)?,
                    &[&before],
                )
                .map_err(git)?;
            repo.branch(&branch, &repo.find_commit(work).map_err(git)?, true)
                .map_err(git)?;
            if rng.below(8) == 0 {
                repo.reference("refs/heads/main", before.id(), true, "demo: dropped")
                    .map_err(git)?;
                repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
                    .map_err(git)?;
            }
            landed.push(branch.clone());
            sessions.push(SessionPlan {
                agent: prefix,
                cwd: path.to_path_buf(),
                branch,
                prompt: format!("Improve {topic} in {}", plan.name),
                start: t - 1_800 - rng.below(3_600) as i64,
                turns: 2 + rng.below(5) as usize,
                live: false,
                waiting: false,
                end: 0,
            });
        }
    }

    // Agent branches ahead of main, written in the last two days.
    let main_head = repo.head().map_err(git)?.peel_to_commit().map_err(git)?;
    let mut worktree = None;
    for (bi, (branch, messages)) in plan.branches.iter().enumerate() {
        let b = repo.branch(branch, &main_head, true).map_err(git)?;
        let refname = b.get().name().unwrap_or_default().to_string();
        repo.set_head(&refname).map_err(git)?;
        repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .map_err(git)?;
        let agent = if branch.starts_with("codex/") {
            "codex"
        } else {
            "claude"
        };
        let mut bt = now - 2 * DAY + (bi as i64) * 7_200 + rng.below(3_600) as i64;
        let session_start = bt - 900;
        for (mi, msg) in messages.iter().enumerate() {
            bt += 1_200 + rng.below(2_400) as i64;
            let file = plan.files[(bi + mi) % plan.files.len()];
            for k in 0..(3 + rng.below(12)) {
                touch(path, file, &format!("// {branch} step {mi}.{k}"))?;
            }
            let human = HUMANS[(idx + bi) % HUMANS.len()];
            let trailer = if agent == "codex" {
                "Co-Authored-By: Codex <codex@openai.com>"
            } else {
                "Co-Authored-By: Claude <noreply@anthropic.com>"
            };
            let author = sig(human.0, human.1, bt.min(now - 60))?;
            commit_all(&repo, path, &author, &format!("{msg}\n\n{trailer}\n"))?;
        }
        // The first repo's first agent branch is still being worked on in a linked worktree.
        let live = idx == 0 && bi == 0;
        let cwd = if live {
            let wt_path = path
                .parent()
                .and_then(Path::parent)
                .unwrap_or(path)
                .join("worktrees")
                .join(slug(branch));
            std::fs::create_dir_all(wt_path.parent().unwrap_or(path))
                .map_err(|e| Error::io(&wt_path, e))?;
            worktree = Some(wt_path.clone());
            wt_path
        } else {
            path.to_path_buf()
        };
        // The second repo's first agent branch waits for an answer from its user.
        let waiting = idx == 1 && bi == 0 && agent == "claude";
        sessions.push(SessionPlan {
            agent,
            cwd,
            branch: branch.to_string(),
            prompt: messages[0].to_string(),
            // The live session is the agent's latest pass over its branch, still going.
            start: match (live, waiting) {
                (true, _) => now - 1_200,
                (_, true) => now - 3_000,
                _ => session_start,
            },
            turns: 3 + messages.len(),
            live,
            waiting,
            end: if waiting { now - 1_200 } else { now - 30 },
        });
        // Back to main before the next branch.
        repo.set_head("refs/heads/main").map_err(git)?;
        repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .map_err(git)?;
    }
    if let Some(wt_path) = &worktree {
        let (branch, _) = plan.branches[0];
        let b = repo.find_branch(branch, BranchType::Local).map_err(git)?;
        let mut opts = WorktreeAddOptions::new();
        opts.reference(Some(b.get()));
        repo.worktree(&slug(branch), wt_path, Some(&opts))
            .map_err(git)?;
    }
    Ok((sessions, worktree, landed))
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

struct LogWriter {
    claude_dir: PathBuf,
    codex_home: PathBuf,
    n: usize,
}

impl LogWriter {
    fn write(&mut self, s: &SessionPlan, rng: &mut Rng) -> Result<()> {
        self.n += 1;
        let (file, text) = if s.agent == "codex" {
            self.codex(s, rng)
        } else {
            self.claude(s, rng)
        };
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::write(&file, text).map_err(|e| Error::io(&file, e))
    }

    fn claude(&self, s: &SessionPlan, rng: &mut Rng) -> (PathBuf, String) {
        let sid = rng.uuid();
        let cwd = s.cwd.display().to_string();
        let project = cwd.replace(['/', '.'], "-");
        let file = self
            .claude_dir
            .join("projects")
            .join(project)
            .join(format!("{sid}.jsonl"));
        let model = if rng.below(4) == 0 {
            "claude-opus-4-7"
        } else {
            "claude-sonnet-4-5-20250929"
        };
        let mut out = String::new();
        let mut t = s.start;
        // A live log's last line lands at `end`: each turn takes 2 steps plus 4 s of snapshots.
        let step = if s.live || s.waiting {
            ((s.end - s.start) / s.turns as i64 - 4).max(10) / 2
        } else {
            40 + rng.below(200) as i64
        };
        let line = |v: serde_json::Value, out: &mut String| {
            let _ = writeln!(out, "{v}");
        };
        line(
            json!({"type":"summary","summary": s.prompt, "leafUuid": rng.uuid()}),
            &mut out,
        );
        let mut parent: Option<String> = None;
        for turn in 0..s.turns {
            let uuid = rng.uuid();
            let prompt = if turn == 0 {
                s.prompt.clone()
            } else {
                format!("Continue: step {}", turn + 1)
            };
            line(
                json!({"parentUuid": parent, "isSidechain": false, "userType": "external", "cwd": cwd,
                "sessionId": sid, "version": "2.1.14", "gitBranch": s.branch, "type": "user", "uuid": uuid,
                "timestamp": rfc3339(t), "message": {"role": "user", "content": prompt}}),
                &mut out,
            );
            parent = Some(uuid);
            t += step;
            let msg_id = format!("msg_demo{:06}{:03}", self.n, turn);
            let req_id = format!("req_demo{:06}{:03}", self.n, turn);
            let usage = |out_tokens: u64, rng: &mut Rng| {
                json!({
                "input_tokens": 3 + rng.below(40), "cache_creation_input_tokens": 2_000 + rng.below(9_000),
                "cache_read_input_tokens": 12_000 + rng.below(60_000), "output_tokens": out_tokens,
                "service_tier": "standard"})
            };
            // Claude Code writes a streaming snapshot, then the final line, for one response.
            let final_out = 200 + rng.below(2_500);
            for (k, out_tokens) in [(0, 8), (1, final_out)] {
                let u = rng.uuid();
                let content = if k == 0 {
                    json!([{"type": "thinking", "thinking": "Plan the change.", "signature": "ZGVtbw=="}])
                } else {
                    json!([{"type": "tool_use", "id": format!("toolu_demo{:06}{:03}", self.n, turn), "name": "Edit",
                        "input": {"file_path": format!("{cwd}/src/lib.rs")}}])
                };
                let mut us = usage(out_tokens, rng);
                if k == 1 {
                    us = usage(final_out, rng);
                }
                line(
                    json!({"parentUuid": parent, "isSidechain": false, "userType": "external", "cwd": cwd,
                    "sessionId": sid, "version": "2.1.14", "gitBranch": s.branch,
                    "message": {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                        "content": content, "stop_reason": if k == 1 { json!("tool_use") } else { json!(null) },
                        "usage": us},
                    "requestId": req_id, "type": "assistant", "uuid": u, "timestamp": rfc3339(t)}),
                    &mut out,
                );
                parent = Some(u);
                t += 2;
            }
            t += step;
        }
        if s.waiting {
            line(
                json!({"parentUuid": parent, "isSidechain": false, "userType": "external", "cwd": cwd,
                    "sessionId": sid, "version": "2.1.14", "gitBranch": s.branch,
                    "message": {"id": format!("msg_demo{:06}ask", self.n), "type": "message", "role": "assistant",
                        "model": model, "stop_reason": "end_turn",
                        "content": [{"type": "text", "text": "The toggle works. Should the theme also follow the OS setting when the user has never chosen one?"}],
                        "usage": {"input_tokens": 4, "output_tokens": 120, "cache_read_input_tokens": 30000,
                            "cache_creation_input_tokens": 0}},
                    "requestId": format!("req_demo{:06}ask", self.n), "type": "assistant", "uuid": rng.uuid(),
                    "timestamp": rfc3339(s.end)}),
                &mut out,
            );
        }
        if self.n % 7 == 3 {
            // Logs get cut when a laptop sleeps mid-write: one truncated line, to be skipped.
            out.push_str("{\"type\":\"assistant\",\"message\":{\"id\":\"msg_trunc\n");
        }
        (file, out)
    }

    fn codex(&self, s: &SessionPlan, rng: &mut Rng) -> (PathBuf, String) {
        let sid = rng.uuid();
        let cwd = s.cwd.display().to_string();
        let start = chrono::DateTime::from_timestamp(s.start, 0).unwrap_or_default();
        let file = self
            .codex_home
            .join("sessions")
            .join(start.format("%Y/%m/%d").to_string())
            .join(format!(
                "rollout-{}-{sid}.jsonl",
                start.format("%Y-%m-%dT%H-%M-%S")
            ));
        let mut out = String::new();
        let line = |ts: i64, kind: &str, payload: serde_json::Value, out: &mut String| {
            let _ = writeln!(
                out,
                "{}",
                json!({"timestamp": rfc3339(ts), "type": kind, "payload": payload})
            );
        };
        let mut t = s.start;
        line(
            t,
            "session_meta",
            json!({"id": sid, "timestamp": rfc3339(t), "cwd": cwd, "originator": "codex_cli_rs",
            "cli_version": "0.98.0", "source": "cli", "model_provider": "openai",
            "git": {"branch": s.branch, "repository_url": "git@github.com:acme/demo.git"}}),
            &mut out,
        );
        // A live log's last line lands at `end`: each turn takes 2 steps plus 1 s.
        let step = if s.live || s.waiting {
            ((s.end - s.start) / s.turns as i64 - 1).max(10) / 2
        } else {
            60 + rng.below(240) as i64
        };
        let mut total = [0u64; 4];
        for turn in 0..s.turns {
            let prompt = if turn == 0 {
                s.prompt.clone()
            } else {
                format!("Continue: step {}", turn + 1)
            };
            t += 1;
            line(
                t,
                "event_msg",
                json!({"type": "user_message", "message": prompt, "images": null}),
                &mut out,
            );
            line(
                t,
                "turn_context",
                json!({"cwd": cwd, "approval_policy": "on-request",
                "sandbox_policy": {"type": "workspace-write", "network_access": false},
                "model": "gpt-5.3-codex", "effort": "medium", "summary": "auto"}),
                &mut out,
            );
            t += step;
            line(
                t,
                "response_item",
                json!({"type": "function_call", "name": "shell",
                "arguments": "{\"command\":[\"cargo\",\"test\"]}", "call_id": format!("call_demo{}_{}", self.n, turn)}),
                &mut out,
            );
            let input = 8_000 + rng.below(20_000);
            let cached = input * (50 + rng.below(45)) / 100;
            let output = 300 + rng.below(3_000);
            let reasoning = output / 2;
            let last = [input, cached, output, reasoning];
            for i in 0..4 {
                total[i] += last[i];
            }
            let usage = |u: [u64; 4]| {
                json!({"input_tokens": u[0], "cached_input_tokens": u[1], "output_tokens": u[2],
                "reasoning_output_tokens": u[3], "total_tokens": u[0] + u[2]})
            };
            t += step;
            line(
                t,
                "event_msg",
                json!({"type": "token_count", "info": {"total_token_usage": usage(total),
                "last_token_usage": usage(last), "model_context_window": 272000}, "rate_limits": null}),
                &mut out,
            );
        }
        line(
            t + 1,
            "event_msg",
            json!({"type": "task_complete", "last_agent_message": "Done."}),
            &mut out,
        );
        (file, out)
    }
}

/// Work items: the one the rate-limiting branch works on, handed to Claude (the change's review
/// page links it), one waiting for Claude to be dispatched, and one a person has.
async fn seed_work(store: &Store, now: i64) -> Result<()> {
    let branch = "claude/add-rate-limiting";
    // The ingest adopted the branch's runs as a work item of their own: this one replaces it.
    for w in store.work_items().await? {
        if w.source == WorkSource::Run
            && w.links
                .iter()
                .any(|l| l.kind == WorkLinkKind::Branch && l.target == branch)
        {
            store.delete_work_item(&w.id).await?;
        }
    }
    let repo = store
        .change_requests()
        .await?
        .into_iter()
        .find(|c| c.head == branch)
        .map(|c| c.repo);
    store
        .upsert_work_item(&crate::model::WorkItem {
            id: "W-demo0001".into(),
            title: "Rate-limit the public API (100 requests a minute per key)".into(),
            body: "Add a token-bucket limiter in front of the public routes; 429 with retry-after."
                .into(),
            repo: repo.clone(),
            assignee: Some("agent:claude".into()),
            state: WorkState::InReview,
            source: WorkSource::Cockpit,
            labels: vec![],
            created_at: now - 3 * 86_400,
            updated_at: now - 86_400,
            links: vec![crate::model::WorkLink {
                kind: WorkLinkKind::Branch,
                target: branch.into(),
            }],
        })
        .await?;
    let item = |id: &str, title: &str, body: &str, assignee: &str, state: WorkState, age: i64| {
        crate::model::WorkItem {
            id: id.into(),
            title: title.into(),
            body: body.into(),
            repo: repo.clone(),
            assignee: Some(assignee.into()),
            state,
            source: WorkSource::Cockpit,
            labels: vec![],
            created_at: now - age,
            updated_at: now - age,
            links: vec![],
        }
    };
    store
        .upsert_work_item(&item(
            "W-demo0002",
            "Add a /health endpoint that reports the build version",
            "GET /health answers 200 with {\"version\": …}; no auth.",
            "agent:claude",
            WorkState::Todo,
            7_200,
        ))
        .await?;
    store
        .upsert_work_item(&item(
            "W-demo0003",
            "Review the on-call runbook for the billing service",
            "",
            "person:Carol Diaz",
            WorkState::InProgress,
            2 * 86_400,
        ))
        .await
}

/// A team budget the demo's month-to-date spend has used about 60 % of: the Spend view shows
/// its bar and forecast, the inbox its 50 % alert.
async fn seed_budget(store: &Store, now: i64) -> Result<()> {
    let prices = crate::model::pricing::PriceTable::builtin();
    let set = |usd: f64| crate::domain::budgets::set(store, "team", None, usd, &prices, now);
    let to_error = |e: crate::domain::budgets::BudgetError| Error::Invalid {
        path: "demo budget".into(),
        message: e.to_string(),
    };
    set(1.0).await.map_err(to_error)?;
    let spent = crate::domain::budgets::status(store, now)
        .await?
        .first()
        .map_or(0.0, |s| s.spent_usd);
    set(((spent * 1.6).max(1.0) * 100.0).round() / 100.0)
        .await
        .map_err(to_error)?;
    crate::domain::budgets::check(store, now).await?;
    Ok(())
}

/// Deployments, releases and experiments written directly, so those views show something real
/// to read. Each record says `source`/id prefix `demo`. `flightdeck demo` reads its experiments
/// from a GrowthBook fake instead: it calls [`seed_unsourced_but_experiments`].
pub async fn seed_unsourced(store: &Store, ws: &DemoWorkspace, now: i64) -> Result<()> {
    seed_unsourced_but_experiments(store, ws, now).await?;
    seed_experiments(store, now).await
}

/// As [`seed_unsourced`], without the experiments.
pub async fn seed_unsourced_but_experiments(
    store: &Store,
    ws: &DemoWorkspace,
    now: i64,
) -> Result<()> {
    land(store, ws, now).await?;
    seed_budget(store, now).await?;
    seed_work(store, now).await?;
    for (i, path) in ws.repos.iter().enumerate() {
        let repo_key = crate::sources::git::identity_of(path)?;
        let repo = Repository::open(path).map_err(|e| Error::git(path, e))?;
        let mut walk = repo.revwalk().map_err(|e| Error::git(path, e))?;
        walk.push_ref("refs/heads/main")
            .map_err(|e| Error::git(path, e))?;
        let shas: Vec<(String, i64)> = walk
            .flatten()
            .filter_map(|oid| {
                repo.find_commit(oid)
                    .ok()
                    .map(|c| (oid.to_string(), c.time().seconds()))
            })
            .take(60)
            .collect();
        seed_merged_history(store, &repo_key, now).await?;
        for (k, (sha, at)) in shas.iter().enumerate().step_by(6) {
            for env in ["staging", "production"] {
                // The newest commit is on staging only: production's next release waits.
                if env == "production" && k == 0 {
                    continue;
                }
                let status = if env == "production" && k == 12 && i == 1 {
                    DeployStatus::Failure
                } else {
                    DeployStatus::Success
                };
                store
                    .upsert_deployment(&Deployment {
                        id: format!("demo:{}:{env}:{k}", repo_name(path)),
                        repo: repo_key.clone(),
                        environment: env.into(),
                        sha: sha.clone(),
                        status,
                        created_at: at + if env == "production" { 7_200 } else { 900 },
                        source: "demo".into(),
                        contents: Contents::Unknown,
                    })
                    .await?;
            }
        }
        // An outage someone filed as an incident issue after one production deploy of the
        // first repo, closed an hour and a half later.
        if let (0, Some((_, at))) = (i, shas.get(24)) {
            let opened = at + 7_200 + 40 * 60;
            store
                .upsert_incident(&crate::model::Incident {
                    id: format!("demo:{}:incident:1", repo_name(path)),
                    repo: repo_key.clone(),
                    title: "Checkout returns 502 for a share of requests".into(),
                    url: String::new(),
                    opened_at: opened,
                    closed_at: Some(opened + 95 * 60),
                })
                .await?;
        }
        for env in ["staging", "production"] {
            crate::domain::deploys::refresh_contents(store, &repo_key, env, None)
                .await
                .map_err(|e| Error::Invalid {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        }
        crate::store::cycle::measure(store, &repo_key).await?;
        let (state, approved_by) = match i {
            0 => (ReleaseState::Pending, None),
            1 => (ReleaseState::Approved, Some("Alice Martin".to_string())),
            _ => (ReleaseState::Deployed, Some("Bob Chen".to_string())),
        };
        store
            .upsert_release(&Release {
                id: format!("demo:{}:v1.{}.0", repo_name(path), 10 + i),
                repo: repo_key.clone(),
                environment: "production".into(),
                name: format!("v1.{}.0", 10 + i),
                state,
                created_at: now - (i as i64 + 1) * 3 * 3_600,
                approved_by,
                sha: shas.first().map(|(sha, _)| sha.clone()),
                run_id: None,
                decided_at: None,
                reason: None,
            })
            .await?;
    }
    seed_audit(store, ws, now).await
}

/// One of the demo's experiments, as GrowthBook or an import gives it.
pub struct DemoExperiment {
    pub experiment: Experiment,
    pub metrics: Vec<crate::model::ExperimentMetric>,
    pub sums: Vec<crate::model::MetricSums>,
    /// Its tracking key and feature flag.
    pub keys: Vec<crate::model::ExperimentKey>,
    /// Its sums at the end of each day it ran, the last day's being `sums`.
    pub history: Vec<crate::model::HistoryPoint>,
}

/// An experiment's sums at the end of each of its `days`, ending at `totals`: units come in
/// evenly, and a binomial metric's variations other than control start a fifth above their
/// final rate and settle to it (the novelty that fools a lead who peeks at a fixed-horizon
/// test). Other metrics keep their final mean and spread every day.
fn demo_history(
    started_at: i64,
    days: i64,
    metrics: &[crate::model::ExperimentMetric],
    totals: &[crate::model::MetricSums],
) -> Vec<crate::model::HistoryPoint> {
    use crate::model::{HistoryPoint, MetricKind, MetricSums};
    let days = days.max(1);
    let mut points: Vec<HistoryPoint> = Vec::new();
    for k in 0..days {
        let f = (k + 1) as f64 / days as f64;
        let sums = totals
            .iter()
            .map(|t| {
                let n = (t.n * f).round();
                let kind = metrics
                    .iter()
                    .find(|m| m.name == t.metric)
                    .map_or(MetricKind::Mean, |m| m.kind);
                let control = totals
                    .iter()
                    .find(|s| s.metric == t.metric)
                    .is_some_and(|c| c.variation == t.variation);
                let (sum, sum_squares) = if k + 1 == days {
                    (t.sum, t.sum_squares)
                } else if kind == MetricKind::Binomial {
                    let boost = if control { 0.0 } else { (1.0 - f) / 5.0 };
                    let x = (n * t.sum / t.n * (1.0 + boost)).round().min(n);
                    (x, x)
                } else {
                    (t.sum * n / t.n, t.sum_squares * n / t.n)
                };
                MetricSums {
                    n,
                    sum,
                    sum_squares,
                    ..t.clone()
                }
            })
            .collect();
        points.push(HistoryPoint {
            day: crate::model::days::of(started_at + (k + 1) * DAY),
            sums,
        });
    }
    points
}

/// The demo's experiments written straight to the store (what an import does).
pub async fn seed_experiments(store: &Store, now: i64) -> Result<()> {
    for d in experiments(now) {
        store
            .replace_experiment(
                &d.experiment,
                &d.metrics,
                &d.sums,
                &crate::model::History {
                    points: d.history.clone(),
                    whole: true,
                },
            )
            .await?;
        store.set_experiment_keys(&d.experiment.id, &d.keys).await?;
    }
    Ok(())
}

/// Three experiments, as per-variation sums: a clear win, a flat test that a naive one-look
/// test calls a win (p = 0.02) while the always-valid test says wait, and one whose split is
/// off (a sample-ratio mismatch). Each goes by its id in code and has a flag of that name.
pub fn experiments(now: i64) -> Vec<DemoExperiment> {
    use crate::model::{ExperimentMetric, MetricKind, MetricSums};
    let binomial = |metric: &str, variation: &str, n: f64, converted: f64| MetricSums {
        metric: metric.into(),
        variation: variation.into(),
        n,
        sum: converted,
        sum_squares: converted,
        denominator: None,
        pre: None,
    };
    // A per-unit mean with standard deviation `sd`: Σx² = (n−1)·sd² + (Σx)²/n.
    let mean = |metric: &str, variation: &str, n: f64, mean: f64, sd: f64| MetricSums {
        metric: metric.into(),
        variation: variation.into(),
        n,
        sum: n * mean,
        sum_squares: (n - 1.0) * sd * sd + n * mean * mean,
        denominator: None,
        pre: None,
    };
    let metric = |name: &str, kind, guardrail, inverse| ExperimentMetric {
        name: name.into(),
        kind,
        guardrail,
        inverse,
    };
    type Seed = (&'static str, &'static str, i64, Vec<(&'static str, f64)>);
    let experiments: Vec<(Seed, Vec<ExperimentMetric>, Vec<MetricSums>)> = vec![
        (
            (
                "agent-pr-template",
                "Agent PR description template",
                21,
                vec![("control", 2_400.0), ("treatment", 2_410.0)],
            ),
            vec![
                metric("first_pass_approval", MetricKind::Binomial, false, false),
                metric("review_minutes", MetricKind::Mean, true, true),
            ],
            vec![
                binomial("first_pass_approval", "control", 2_400.0, 1_368.0),
                binomial("first_pass_approval", "treatment", 2_410.0, 1_639.0),
                mean("review_minutes", "control", 2_400.0, 42.0, 20.0),
                mean("review_minutes", "treatment", 2_410.0, 41.2, 20.5),
            ],
        ),
        (
            (
                "checkout-cta",
                "Checkout button copy",
                9,
                vec![("control", 4_812.0), ("treatment", 4_790.0)],
            ),
            vec![metric(
                "checkout_conversion",
                MetricKind::Binomial,
                false,
                false,
            )],
            vec![
                binomial("checkout_conversion", "control", 4_812.0, 391.0),
                binomial("checkout_conversion", "treatment", 4_790.0, 458.0),
            ],
        ),
        (
            (
                "pricing-page",
                "Pricing page layout",
                12,
                vec![("control", 10_312.0), ("treatment", 9_688.0)],
            ),
            vec![metric("plan_clicked", MetricKind::Binomial, false, false)],
            vec![
                binomial("plan_clicked", "control", 10_312.0, 1_031.0),
                binomial("plan_clicked", "treatment", 9_688.0, 1_163.0),
            ],
        ),
    ];
    let mut out = Vec::new();
    for ((id, name, days, variants), metrics, sums) in experiments {
        let primary = &metrics[0];
        let e = Experiment {
            id: id.into(),
            name: name.into(),
            metric: primary.name.clone(),
            state: ExperimentState::Running,
            started_at: now - days * DAY,
            variants: variants
                .iter()
                .map(|(v, units)| Variant {
                    name: (*v).into(),
                    units: *units as i64,
                    conversions: sums
                        .iter()
                        .find(|s| s.metric == primary.name && s.variation == *v)
                        .map_or(0, |s| s.sum as i64),
                    weight: Some(0.5),
                })
                .collect(),
        };
        let keys = vec![
            crate::model::ExperimentKey {
                key: id.into(),
                kind: "tracking".into(),
            },
            crate::model::ExperimentKey {
                key: format!("{}_enabled", id.replace('-', "_")),
                kind: "flag".into(),
            },
        ];
        let history = demo_history(e.started_at, days, &metrics, &sums);
        out.push(DemoExperiment {
            experiment: e,
            metrics,
            sums,
            keys,
            history,
        });
    }
    out
}

/// The last month's agent branches, which the first ingest saw open, are deleted (squash-merged
/// or dropped) and the repos read again: Flightdeck records each as merged, with the runs that
/// made it, or closed, as it does for a team's real branches (`domain::ingest`). Idempotent: a
/// branch already gone is skipped.
async fn land(store: &Store, ws: &DemoWorkspace, now: i64) -> Result<()> {
    for (path, branch) in &ws.landed {
        let repo = Repository::open(path).map_err(|e| Error::git(path, e))?;
        let found = repo.find_branch(branch, BranchType::Local);
        if let Ok(mut b) = found {
            b.delete().map_err(|e| Error::git(path, e))?;
        }
    }
    crate::domain::ingest::run(store, &ws.sources(), None, now).await?;
    Ok(())
}

/// The pull requests behind the last three weeks of main (`… (#n)` commits), merged when their
/// commit landed, with first commits, openings and first reviews a few hours before: the
/// demo's cycle time. Timings come from the sha, so a rebuilt demo shows the same numbers.
async fn seed_merged_history(store: &Store, repo_key: &str, now: i64) -> Result<()> {
    let commits = store.commits_between(now - 21 * DAY, now).await?;
    for c in commits.iter().filter(|c| c.repo == repo_key) {
        let Some(n) = c
            .summary
            .rsplit_once("(#")
            .and_then(|(_, n)| n.strip_suffix(')'))
        else {
            continue;
        };
        // Hours drawn from the sha's bytes: coding 1–24, pickup 0.5–8, review 0.5–12.
        let h = |i: usize, lo: i64, hi: i64| {
            let v = i64::from_str_radix(c.sha.get(i..i + 4).unwrap_or("0"), 16).unwrap_or(0);
            lo * 1_800 + v % ((hi - lo) * 1_800).max(1)
        };
        let merged = c.committed_at;
        let reviewed = merged - h(0, 1, 24);
        let opened = reviewed - h(4, 1, 16);
        let first = opened - h(8, 2, 48);
        let reviewer = HUMANS[(h(12, 0, 8) as usize) % HUMANS.len()].0;
        if c.agent.is_some() {
            // Agent work was recorded from its branch, with its runs (see `land`); it gets
            // its person's review, between the branch's last commit and the squash.
            let ids = store
                .change_ids_shipping(repo_key, std::slice::from_ref(&c.sha))
                .await?;
            for id in ids {
                let Some(change) = store.change_request(&id).await? else {
                    continue;
                };
                store
                    .add_review(&crate::model::Review {
                        action_key: format!("demo-review:{id}"),
                        change_request: id,
                        head_sha: change.head_sha,
                        reviewer: reviewer.into(),
                        state: ReviewState::Approved,
                        body: String::new(),
                        at: merged - 600,
                    })
                    .await?;
            }
            continue;
        }
        let id = format!("local:{repo_key}:merged/{n}");
        store
            .upsert_change_request(&crate::model::ChangeRequest {
                id: id.clone(),
                kind: crate::model::ChangeKind::Local,
                repo: repo_key.into(),
                title: c.summary.clone(),
                head: format!("merged/{n}"),
                base: "main".into(),
                head_sha: c.sha.clone(),
                author: match &c.agent {
                    Some(a) => crate::model::Author::Agent { agent: a.clone() },
                    None => crate::model::Author::Human {
                        name: c.author_name.clone(),
                    },
                },
                state: crate::model::ChangeState::Merged,
                created_at: opened,
                updated_at: merged,
                commits: 1,
                files_changed: c.files_changed,
                insertions: c.insertions,
                deletions: c.deletions,
                agent_cost_usd: 0.0,
                labels: vec![],
                requested_reviewers: vec![],
                mergeable: None,
                merged_at: Some(merged),
                first_commit_at: Some(first),
            })
            .await?;
        store
            .add_review(&crate::model::Review {
                action_key: format!("demo-review:{id}"),
                change_request: id,
                head_sha: c.sha.clone(),
                reviewer: reviewer.into(),
                state: ReviewState::Approved,
                body: String::new(),
                at: reviewed,
            })
            .await?;
    }
    Ok(())
}

/// A signed audit trail of decisions a lead made in the demo, with the demo's own key
/// (`<demo>/audit-key`): `FLIGHTDECK_AUDIT_KEY=<demo>/audit-key flightdeck audit verify` checks
/// it. Written once; a restarted demo keeps its trail.
async fn seed_audit(store: &Store, ws: &DemoWorkspace, now: i64) -> Result<()> {
    if !store.audit_entries().await?.is_empty() {
        return Ok(());
    }
    let key = crate::model::audit::AuditKey::load_or_create(&ws.root.join("audit-key"))?;
    let repo = |i: usize| ws.repos.get(i).map(|p| repo_name(p)).unwrap_or_default();
    let trail = [
        (
            9 * HOUR,
            "Alice Martin",
            "approve",
            format!("local:{}:claude/fix-retry-jitter", repo(1)),
            "checks green, 1 human approval".to_string(),
        ),
        (
            8 * HOUR,
            "Alice Martin",
            "merge",
            format!("local:{}:claude/fix-retry-jitter", repo(1)),
            "fast-forward into main".to_string(),
        ),
        (
            6 * HOUR,
            "Bob Chen",
            "approve-release",
            format!("demo:{}:v1.12.0", repo(2)),
            "production".to_string(),
        ),
        (
            5 * HOUR,
            "Alice Martin",
            "request-changes",
            format!("local:{}:codex/fix-pagination", repo(0)),
            "off-by-one still there on the last page".to_string(),
        ),
        (
            4 * HOUR,
            "Alice Martin",
            "approve-release",
            format!("demo:{}:v1.11.0", repo(1)),
            "production".to_string(),
        ),
    ];
    for (ago, actor, action, target, detail) in trail {
        let d = crate::model::audit::Decision {
            at: now - ago,
            actor,
            action,
            target: &target,
            detail: &detail,
        };
        store.append_audit(&key, &d).await?;
    }
    Ok(())
}

fn repo_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
