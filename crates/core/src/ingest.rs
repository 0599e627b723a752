//! Ingest: runs every configured source once and writes what it found to the store, then tells
//! the event bus. Idempotent (upserts on natural keys) and incremental for git (per-repo cursor
//! of branch heads). A source that fails is reported and skipped; it never stops the others.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::events::{Event, EventBus};
use crate::model::{AgentRun, RunState, SpendRecord, Tokens};
use crate::pricing::{vendor_of, PriceTable};
use crate::sources::{claude, codex, git, ParsedSession};
use crate::store::Store;

/// A run whose log grew within this many seconds is shown as running.
pub const RUNNING_WINDOW_SECS: i64 = 300;

/// (vendor, model, day, agent, repo): the grain of a spend record.
type SpendKey = (String, String, String, String, String);

#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub repos: Vec<PathBuf>,
    pub claude_dirs: Vec<PathBuf>,
    pub codex_homes: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    pub repos: usize,
    pub new_commits: usize,
    pub runs: usize,
    pub skipped_lines: i64,
    /// One line each: what could not be read, and where.
    pub problems: Vec<String>,
}

pub async fn run(
    store: &Store,
    sources: &Sources,
    bus: Option<&EventBus>,
    now: i64,
) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    let mut repo_roots: Vec<(PathBuf, String)> = Vec::new();

    for path in &sources.repos {
        let known: Vec<String> = match store.cursor("git", &path.display().to_string()).await? {
            Some(c) => serde_json::from_str(&c).unwrap_or_default(),
            None => Vec::new(),
        };
        let p = path.clone();
        let scanned = tokio::task::spawn_blocking(move || git::scan(&p, &known, now))
            .await
            .map_err(|e| crate::Error::Invalid {
                path: path.clone(),
                message: format!("scan task failed: {e}"),
            })?;
        let scan = match scanned {
            Ok(s) => s,
            Err(e) => {
                report.problems.push(e.to_string());
                continue;
            }
        };
        store.upsert_repo(&scan.repo).await?;
        store
            .replace_branches(&scan.repo.path, &scan.branches)
            .await?;
        store.upsert_commits(&scan.commits).await?;
        let open: Vec<String> = scan.changes.iter().map(|c| c.id.clone()).collect();
        for c in &scan.changes {
            store.upsert_change_request(c).await?;
        }
        store
            .close_local_changes_except(&scan.repo.path, &open)
            .await?;
        let heads = serde_json::to_string(&scan.heads).unwrap_or_else(|_| "[]".into());
        store
            .set_cursor("git", &path.display().to_string(), &heads, now)
            .await?;
        repo_roots.push((PathBuf::from(&scan.repo.path), scan.repo.path.clone()));
        for wt in &scan.worktrees {
            repo_roots.push((wt.clone(), scan.repo.path.clone()));
        }
        report.repos += 1;
        report.new_commits += scan.commits.len();
    }

    let claude_dirs = sources.claude_dirs.clone();
    let codex_homes = sources.codex_homes.clone();
    let sessions = tokio::task::spawn_blocking(move || {
        let mut all = claude::read_dirs(&claude_dirs);
        for home in &codex_homes {
            all.extend(codex::read_home(home));
        }
        all
    })
    .await
    .map_err(|e| crate::Error::Invalid {
        path: PathBuf::from("agent logs"),
        message: format!("read task failed: {e}"),
    })?;

    let prices = PriceTable::builtin();
    let mut spend: BTreeMap<SpendKey, (Tokens, f64)> = BTreeMap::new();
    for s in &sessions {
        report.skipped_lines += s.skipped_lines;
        report.problems.extend(s.problems.iter().cloned());
        if s.started_at == 0 {
            continue; // nothing datable in this log
        }
        let run = to_run(s, &prices, &repo_roots, now);
        let day = chrono::DateTime::from_timestamp(s.started_at, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        for (model, tokens) in &s.tokens_by_model {
            let key = (
                vendor_of(&prices, model),
                model.clone(),
                day.clone(),
                run.agent.clone(),
                run.repo.clone().unwrap_or_default(),
            );
            let slot = spend.entry(key).or_default();
            slot.0.add(tokens);
            slot.1 += prices.cost(model, tokens);
        }
        store.upsert_agent_run(&run).await?;
        report.runs += 1;
    }
    let records: Vec<SpendRecord> = spend
        .into_iter()
        .map(
            |((vendor, model, day, agent, repo), (tokens, cost))| SpendRecord {
                vendor,
                model,
                day,
                source: "logs".into(),
                agent,
                repo,
                tokens,
                cost_usd: cost,
            },
        )
        .collect();
    store.replace_spend_source("logs", &records).await?;

    if let Some(bus) = bus {
        bus.publish(Event::Changed {
            source: "ingest".into(),
            topics: ["inbox", "changes", "agents", "repos", "spend", "velocity"]
                .map(String::from)
                .to_vec(),
        });
    }
    Ok(report)
}

/// Re-ingests every `every` until the task is aborted; git scans are incremental, so an idle
/// pass is cheap. Failures are logged and retried on the next tick.
pub fn spawn_periodic(
    store: Store,
    bus: EventBus,
    sources: Sources,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = run(&store, &sources, Some(&bus), chrono::Utc::now().timestamp()).await
            {
                tracing::warn!("rescan failed: {e}");
            }
        }
    })
}

fn to_run(
    s: &ParsedSession,
    prices: &PriceTable,
    roots: &[(PathBuf, String)],
    now: i64,
) -> AgentRun {
    let cwd = Path::new(&s.cwd);
    let repo = roots
        .iter()
        .filter(|(root, _)| cwd.starts_with(root))
        .max_by_key(|(root, _)| root.as_os_str().len())
        .map(|(_, repo)| repo.clone());
    let cost = s
        .tokens_by_model
        .iter()
        .map(|(m, t)| prices.cost(m, t))
        .sum();
    let state = if now - s.ended_at < RUNNING_WINDOW_SECS {
        RunState::Running
    } else if s.errors > 0 && s.tokens().output == 0 {
        RunState::Failed
    } else {
        RunState::Finished
    };
    AgentRun {
        id: format!("{}:{}", s.agent, s.session_id),
        agent: s.agent.clone(),
        session_id: s.session_id.clone(),
        model: s.main_model(),
        cwd: s.cwd.clone(),
        repo,
        branch: s.branch.clone(),
        title: if s.title.is_empty() {
            "(no prompt)".into()
        } else {
            s.title.clone()
        },
        started_at: s.started_at,
        ended_at: s.ended_at,
        state,
        turns: s.turns,
        tool_calls: s.tool_calls,
        tokens: s.tokens(),
        cost_usd: cost,
        source_path: s.source_path.clone(),
        skipped_lines: s.skipped_lines,
    }
}
