//! What each UI view shows, computed from the store. The server serialises these as they are;
//! the UI's types are generated from them. Pure reads: no view writes anything.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use ts_rs::TS;

use crate::error::Result;
use crate::model::*;
use crate::sources::events;
use crate::store::{Counts, Store};

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Health {
    pub status: String,
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboxItem {
    pub id: String,
    /// needs_you, action_failed, failing_check, failed_deploy, release_gate, budget,
    /// review_requested, green_waiting, review or concentration.
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub repo: String,
    /// The view that holds the item (`changes`, `releases`, `spend`, ...).
    pub view: String,
    #[ts(type = "number")]
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboxView {
    pub items: Vec<InboxItem>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ChangeRow {
    pub change: ChangeRequest,
    pub checks: Vec<Check>,
    /// Agent runs on the same repo and branch (ids).
    pub runs: Vec<String>,
    /// Those runs in brief: what the agent was asked, with which model, at what cost.
    pub run_summaries: Vec<RunSummary>,
    /// The merge policy's verdict on an open change, as it stands now.
    pub verdict: Option<crate::policy::Verdict>,
    /// Why there is no verdict (a malformed policy, an unreadable repo).
    pub policy_error: Option<String>,
    /// Work items this change works on (linked to its id, or to its branch in its repo).
    pub work_items: Vec<WorkRef>,
}

/// A work item in brief, as a change request's page links it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct WorkRef {
    pub id: String,
    pub title: String,
    pub state: String,
    pub assignee: Option<String>,
}

/// One agent run behind a change request, in brief.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RunSummary {
    pub id: String,
    pub agent: String,
    pub model: String,
    /// The first prompt, shortened.
    pub title: String,
    pub state: RunState,
    #[ts(type = "number")]
    pub turns: i64,
    #[ts(type = "number")]
    pub tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ChangesView {
    pub changes: Vec<ChangeRow>,
    /// The last GitHub refresh (when, rate limit, error); `None` before the first.
    pub github: Option<crate::github::ForgeStatus>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AgentSummary {
    pub agent: String,
    #[ts(type = "number")]
    pub runs: i64,
    #[ts(type = "number")]
    pub running: i64,
    pub tokens: Tokens,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AgentsView {
    pub agents: Vec<AgentSummary>,
    pub runs: Vec<AgentRun>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RepoSummary {
    pub repo: Repo,
    pub branches: Vec<Branch>,
    #[ts(type = "number")]
    pub commits: i64,
    #[ts(type = "number")]
    pub agent_commits: i64,
    #[ts(type = "number | null")]
    pub last_commit_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReposView {
    pub repos: Vec<RepoSummary>,
    /// Work trees agents ran in that are not watched (`flightdeck repo add PATH`).
    pub suggested: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReleasesView {
    pub releases: Vec<Release>,
    pub deployments: Vec<Deployment>,
    /// Per repo and environment: what is live, what is on its way, the last failure.
    pub environments: Vec<EnvironmentStatus>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct EnvironmentStatus {
    pub repo: String,
    pub environment: String,
    /// The newest successful deploy.
    pub live: Option<Deployment>,
    /// Deploys in progress or queued, newer than what is live.
    pub pending: Vec<Deployment>,
    /// The newest failed deploy after what is live, if any.
    pub failed: Option<Deployment>,
    #[ts(type = "number")]
    pub deploys: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ExperimentsView {
    pub experiments: Vec<Experiment>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SpendSlice {
    pub key: String,
    pub cost_usd: f64,
    /// Fraction of the total, 0..1.
    pub share: f64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SpendView {
    pub total_usd: f64,
    pub by_vendor: Vec<SpendSlice>,
    pub by_model: Vec<SpendSlice>,
    pub by_agent: Vec<SpendSlice>,
    pub by_day: Vec<SpendSlice>,
    /// Tokens of models without a price (not in any cost above).
    #[ts(type = "number")]
    pub unpriced_tokens: i64,
    pub unpriced_models: Vec<String>,
    /// This month's standing of every budget.
    pub budgets: Vec<crate::budgets::BudgetStatus>,
    /// Vendor shares over the last 30 days, and what stops if each vendor is down.
    pub concentration: crate::concentration::Concentration,
    pub if_down: Vec<crate::concentration::Dependence>,
    /// Billed beside log-derived cost per day and vendor (vendors with billing data, 30 days).
    pub reconciliation: Vec<crate::billing::ReconRow>,
    /// What the spend bought over the last 30 days.
    pub value: crate::value::ValueView,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct WeekVelocity {
    /// Monday of the week, `YYYY-MM-DD`.
    pub week: String,
    #[ts(type = "number")]
    pub agent_commits: i64,
    #[ts(type = "number")]
    pub human_commits: i64,
    #[ts(type = "number")]
    pub agent_lines: i64,
    #[ts(type = "number")]
    pub human_lines: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct VelocityView {
    pub weeks: Vec<WeekVelocity>,
    /// Share of commits made by agents over the whole range, 0..1.
    pub agent_share: f64,
    /// Work items done per week by agents and by people.
    pub work_done: Vec<crate::board::WorkThroughput>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AuditView {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Chain, hashes and signatures checked (not which keys to trust).
    pub integrity: crate::audit::Verification,
}

pub async fn health(store: &Store) -> Result<Health> {
    Ok(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: store.backend().as_str().into(),
        counts: store.counts().await?,
    })
}

/// What needs the lead: open changes to review, failing checks, releases waiting for approval,
/// failed deploys. Newest first.
pub async fn inbox(store: &Store) -> Result<InboxView> {
    inbox_at(store, chrono::Utc::now().timestamp()).await
}

/// The inbox as of `now` (this month's budget alerts are those of `now`'s month).
pub async fn inbox_at(store: &Store, now: i64) -> Result<InboxView> {
    let mut items = Vec::new();
    let checks = store.checks().await?;
    // Reviews requested on GitHub from the token's owner are the lead's own queue.
    let me = crate::github::ForgeStatus::load(store)
        .await?
        .and_then(|s| s.login);
    for c in store
        .change_requests()
        .await?
        .into_iter()
        .filter(|c| c.state == "open")
    {
        let failing: Vec<&Check> = checks
            .iter()
            .filter(|k| k.change_request == c.id && k.conclusion.as_deref() == Some("failure"))
            .collect();
        let who = match &c.author {
            Author::Agent { agent } => agent.clone(),
            Author::Human { name } => name.clone(),
        };
        if !failing.is_empty() {
            items.push(InboxItem {
                id: format!("check:{}", c.id),
                kind: "failing_check".into(),
                title: format!("Checks failing: {}", c.title),
                detail: failing
                    .iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                repo: c.repo.clone(),
                view: "changes".into(),
                at: c.updated_at,
            });
        }
        let own: Vec<&Check> = checks.iter().filter(|k| k.change_request == c.id).collect();
        let green = !own.is_empty()
            && own.iter().all(|k| {
                k.status == "completed"
                    && matches!(
                        k.conclusion.as_deref(),
                        Some("success" | "neutral" | "skipped")
                    )
            });
        let agent = matches!(c.author, Author::Agent { .. });
        let (kind, title) = if me
            .as_ref()
            .is_some_and(|m| c.requested_reviewers.contains(m))
        {
            ("review_requested", format!("Review requested: {}", c.title))
        } else if agent && green {
            (
                "green_waiting",
                format!("Checks green, waiting for you: {}", c.title),
            )
        } else {
            ("review", format!("Review: {}", c.title))
        };
        items.push(InboxItem {
            id: format!("review:{}", c.id),
            kind: kind.into(),
            title,
            detail: format!(
                "{} → {} by {who}, {} commits, +{} −{}, ${:.2} agent cost",
                c.head, c.base, c.commits, c.insertions, c.deletions, c.agent_cost_usd
            ),
            repo: c.repo,
            view: "changes".into(),
            at: c.updated_at,
        });
    }
    // Sessions that asked their user something and wait: what leads ask for most.
    for run in store
        .agent_runs()
        .await?
        .into_iter()
        .filter(|r| r.state == RunState::Idle)
    {
        items.push(InboxItem {
            id: format!("needs-you:{}", run.id),
            kind: "needs_you".into(),
            title: format!("{} is waiting for you: {}", run.agent, run.title),
            detail: format!(
                "{} on {}: asked a question or for permission, nothing since",
                run.repo
                    .as_deref()
                    .and_then(|r| r.rsplit('/').next())
                    .unwrap_or(&run.cwd),
                run.branch.as_deref().unwrap_or("no branch")
            ),
            repo: run.repo.clone().unwrap_or_default(),
            view: "agents".into(),
            at: run.ended_at,
        });
    }
    for r in store
        .releases()
        .await?
        .into_iter()
        .filter(|r| r.state == "pending")
    {
        items.push(InboxItem {
            id: format!("release:{}", r.id),
            kind: "release_gate".into(),
            title: format!("Approve release {} to {}", r.name, r.environment),
            detail: "waiting for approval".into(),
            repo: r.repo,
            view: "releases".into(),
            at: r.created_at,
        });
    }
    for d in store
        .deployments()
        .await?
        .into_iter()
        .filter(|d| d.status == "failure")
    {
        items.push(InboxItem {
            id: format!("deploy:{}", d.id),
            kind: "failed_deploy".into(),
            title: format!("Deploy to {} failed", d.environment),
            detail: format!("at {}", short_sha(&d.sha)),
            repo: d.repo,
            view: "releases".into(),
            at: d.created_at,
        });
    }
    // Budget thresholds crossed this month.
    for a in crate::budgets::alerts(store, now).await? {
        items.push(InboxItem {
            id: format!("budget:{}:{}:{}", a.budget_id, a.month, a.threshold),
            kind: "budget".into(),
            title: format!(
                "Budget {}: {} % reached in {}",
                a.budget_id, a.threshold, a.month
            ),
            detail: format!(
                "${:.2} of ${:.2} spent when it crossed",
                a.spent_usd, a.monthly_usd
            ),
            repo: String::new(),
            view: "spend".into(),
            at: a.at,
        });
    }
    // One vendor carrying too much of the work (the last 30 days).
    let threshold = concentration_threshold(store).await?;
    let since = crate::days::of(now - 30 * 86_400);
    let c = crate::concentration::concentration(store, &since, threshold).await?;
    if c.over {
        let top = |s: &[crate::concentration::Share]| {
            s.first()
                .map(|x| format!("{} {:.0} %", x.key, x.share * 100.0))
                .unwrap_or_else(|| "-".into())
        };
        items.push(InboxItem {
            id: format!("concentration:{since}"),
            kind: "concentration".into(),
            title: format!(
                "Vendor concentration above {:.0}: spend HHI {:.0}, merged work HHI {:.0}",
                c.threshold, c.hhi_spend, c.hhi_merged
            ),
            detail: format!(
                "since {since}: {} of spend, {} of merged agent changes; see what stops if it is down in Spend",
                top(&c.spend_by_vendor),
                top(&c.merged_by_vendor)
            ),
            repo: String::new(),
            view: "spend".into(),
            at: now,
        });
    }
    // Decisions that did not go through: the lead believes they did.
    for a in store
        .actions()
        .await?
        .into_iter()
        .filter(|a| a.state == "failed")
    {
        items.push(InboxItem {
            id: format!("action:{}", a.idempotency_key),
            kind: "action_failed".into(),
            title: format!("{} failed: {}", a.kind.replace('_', " "), a.target),
            detail: a.last_error.unwrap_or_default(),
            repo: String::new(),
            view: "changes".into(),
            at: a.applied_at.unwrap_or(a.created_at),
        });
    }
    // Most urgent first, then newest.
    items.sort_by(|a, b| {
        urgency(&a.kind)
            .cmp(&urgency(&b.kind))
            .then_with(|| b.at.cmp(&a.at))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(InboxView { items })
}

/// Inbox order: a session blocked on its user, a decision that failed, broken checks and
/// deploys, then what waits for a decision — releases, reviews asked of the lead by name,
/// agent work whose checks are green, the rest.
fn urgency(kind: &str) -> u8 {
    match kind {
        "needs_you" => 0,
        "action_failed" => 1,
        "failing_check" => 2,
        "failed_deploy" => 3,
        "release_gate" => 4,
        "budget" => 4,
        "review_requested" => 5,
        "green_waiting" => 6,
        "review" => 7,
        "concentration" => 8,
        _ => 9,
    }
}

fn short_sha(sha: &str) -> &str {
    sha.get(..8).unwrap_or(sha)
}

/// Open and recent change requests with their checks, linked runs and policy verdict.
/// `policy_file`: the policy file to judge by (`None`: built-in defaults).
pub async fn changes(store: &Store, policy_file: Option<&Path>) -> Result<ChangesView> {
    let checks = store.checks().await?;
    let reviews = store.reviews().await?;
    let runs = store.agent_runs().await?;
    let work = store.work_items().await?;
    let policies = match policy_file {
        Some(p) => crate::policy::PolicyFile::load(p).map_err(|e| e.to_string()),
        None => Ok(crate::policy::PolicyFile::default()),
    };
    let now = chrono::Utc::now().timestamp();
    let mut rows = Vec::new();
    for c in store.change_requests().await? {
        let judged = match (&policies, c.state == "open") {
            (_, false) => Err(None),
            (Ok(file), true) => {
                crate::policy::judge_change_among(store, file, &c, now, &checks, &reviews)
                    .await
                    .map_err(Some)
            }
            (Err(e), true) => Err(Some(e.clone())),
        };
        let (verdict, policy_error) = match judged {
            Ok(v) => (Some(v), None),
            Err(e) => (None, e),
        };
        let linked: Vec<&AgentRun> = runs
            .iter()
            .filter(|r| r.repo.as_deref() == Some(&c.repo) && r.branch.as_deref() == Some(&c.head))
            .collect();
        let work_items = work
            .iter()
            .filter(|w| crate::work::works_on(w, &c))
            .map(|w| WorkRef {
                id: w.id.clone(),
                title: w.title.clone(),
                state: w.state.clone(),
                assignee: w.assignee.clone(),
            })
            .collect();
        rows.push(ChangeRow {
            work_items,
            checks: checks
                .iter()
                .filter(|k| k.change_request == c.id)
                .cloned()
                .collect(),
            runs: linked.iter().map(|r| r.id.clone()).collect(),
            run_summaries: linked
                .iter()
                .map(|r| RunSummary {
                    id: r.id.clone(),
                    agent: r.agent.clone(),
                    model: r.model.clone(),
                    title: r.title.clone(),
                    state: r.state,
                    turns: r.turns,
                    tokens: r.tokens.total(),
                    cost_usd: r.cost_usd,
                })
                .collect(),
            verdict,
            policy_error,
            change: c,
        });
    }
    Ok(ChangesView {
        changes: rows,
        github: crate::github::ForgeStatus::load(store).await?,
    })
}

pub async fn agents(store: &Store) -> Result<AgentsView> {
    let runs = store.agent_runs().await?;
    let mut by: BTreeMap<String, AgentSummary> = BTreeMap::new();
    for r in &runs {
        let s = by.entry(r.agent.clone()).or_insert_with(|| AgentSummary {
            agent: r.agent.clone(),
            runs: 0,
            running: 0,
            tokens: Tokens::default(),
            cost_usd: 0.0,
        });
        s.runs += 1;
        if r.state == RunState::Running {
            s.running += 1;
        }
        s.tokens.add(&r.tokens);
        s.cost_usd += r.cost_usd;
    }
    Ok(AgentsView {
        agents: by.into_values().collect(),
        runs,
    })
}

pub async fn repos(store: &Store) -> Result<ReposView> {
    let branches = store.branches().await?;
    let stats = store.commit_stats_by_repo().await?;
    let repos = store
        .repos()
        .await?
        .into_iter()
        .map(|repo| {
            let st = stats.iter().find(|s| s.0 == repo.path);
            RepoSummary {
                branches: branches
                    .iter()
                    .filter(|b| b.repo == repo.path)
                    .cloned()
                    .collect(),
                commits: st.map(|s| s.1).unwrap_or(0),
                agent_commits: st.map(|s| s.2).unwrap_or(0),
                last_commit_at: st.map(|s| s.3),
                repo,
            }
        })
        .collect();
    Ok(ReposView {
        repos,
        suggested: suggested_repos(store).await?,
    })
}

/// Git work trees that agent runs worked in but that nobody watches yet: offered, never added
/// silently.
pub async fn suggested_repos(store: &Store) -> Result<Vec<String>> {
    let watched: Vec<String> = store.repos().await?.into_iter().map(|r| r.path).collect();
    // Many runs share a working directory: look each one up on disk once.
    let cwds: std::collections::BTreeSet<String> = store
        .agent_runs()
        .await?
        .into_iter()
        .filter(|r| r.repo.is_none() && !r.cwd.is_empty())
        .map(|r| r.cwd)
        .collect();
    let mut out = std::collections::BTreeSet::new();
    for cwd in cwds {
        let Ok(repo) = git2::Repository::discover(&cwd) else {
            continue;
        };
        // A linked worktree's runs belong to its main repository.
        let root = if repo.is_worktree() {
            repo.commondir().parent().map(std::path::Path::to_path_buf)
        } else {
            repo.workdir().map(std::path::Path::to_path_buf)
        };
        if let Some(root) = root {
            let root = root.canonicalize().unwrap_or(root);
            let root = root.display().to_string().trim_end_matches('/').to_string();
            if !watched.contains(&root) {
                out.insert(root);
            }
        }
    }
    Ok(out.into_iter().collect())
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct UsagePoint {
    #[ts(type = "number")]
    pub at: i64,
    pub model: String,
    #[ts(type = "number")]
    pub tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RunDetail {
    pub run: AgentRun,
    /// Files the agent touched by path.
    pub files: Vec<String>,
    /// Each billed request, oldest first: cost over time.
    pub timeline: Vec<UsagePoint>,
    /// Commits by this agent in the run's repo while it ran (and up to an hour after).
    pub commits: Vec<Commit>,
    /// Every prompt, tool call and error, oldest first, read from the run's log files now.
    pub events: Vec<RunEvent>,
    /// Older events left out (a run shows its newest `sources::events::MAX_EVENTS`).
    #[ts(type = "number")]
    pub events_omitted: i64,
    /// Log files that could not be read for events (gone, unreadable).
    pub log_problems: Vec<String>,
}

/// One run with what it did; `None` when no such run exists.
pub async fn run_detail(store: &Store, id: &str) -> Result<Option<RunDetail>> {
    let Some(run) = store.agent_run(id).await? else {
        return Ok(None);
    };
    let files = store.session_files(&run.agent, &run.session_id).await?;
    let timeline = store
        .usage_timeline(&run.agent, &run.session_id)
        .await?
        .into_iter()
        .map(|(at, model, tokens, cost_usd)| UsagePoint {
            at,
            model,
            tokens,
            cost_usd,
        })
        .collect();
    let commits = match &run.repo {
        Some(repo) => store
            .commits_between(run.started_at - 600, run.ended_at + 3600)
            .await?
            .into_iter()
            .filter(|c| &c.repo == repo && c.agent.as_deref() == Some(run.agent.as_str()))
            .collect(),
        None => Vec::new(),
    };
    let logs = store.session_logs(&run.agent, &run.session_id).await?;
    let (agent, session) = (run.agent.clone(), run.session_id.clone());
    let log = tokio::task::spawn_blocking(move || events::read(&agent, &session, &logs))
        .await
        .unwrap_or_else(|e| events::RunLog {
            problems: vec![format!("reading the run's logs failed: {e}")],
            ..Default::default()
        });
    Ok(Some(RunDetail {
        run,
        files,
        timeline,
        commits,
        events: log.events,
        events_omitted: log.omitted as i64,
        log_problems: log.problems,
    }))
}

pub async fn releases(store: &Store) -> Result<ReleasesView> {
    let deployments = store.deployments().await?;
    // Newest first already; group keeping that order.
    let mut envs: BTreeMap<(String, String), EnvironmentStatus> = BTreeMap::new();
    for d in &deployments {
        let e = envs
            .entry((d.repo.clone(), d.environment.clone()))
            .or_insert_with(|| EnvironmentStatus {
                repo: d.repo.clone(),
                environment: d.environment.clone(),
                live: None,
                pending: vec![],
                failed: None,
                deploys: 0,
            });
        e.deploys += 1;
        if e.live.is_some() {
            continue;
        }
        match d.status.as_str() {
            "success" => e.live = Some(d.clone()),
            "failure" if e.failed.is_none() => e.failed = Some(d.clone()),
            "in_progress" | "queued" => e.pending.push(d.clone()),
            _ => {}
        }
    }
    Ok(ReleasesView {
        releases: store.releases().await?,
        environments: envs.into_values().collect(),
        deployments,
    })
}

pub async fn experiments(store: &Store) -> Result<ExperimentsView> {
    Ok(ExperimentsView {
        experiments: store.experiments().await?,
    })
}

fn slices(map: BTreeMap<String, f64>, total: f64, by_cost: bool) -> Vec<SpendSlice> {
    let mut v: Vec<SpendSlice> = map
        .into_iter()
        .map(|(key, cost_usd)| SpendSlice {
            key,
            cost_usd,
            share: if total > 0.0 { cost_usd / total } else { 0.0 },
        })
        .collect();
    if by_cost {
        v.sort_by(|a, b| {
            b.cost_usd
                .total_cmp(&a.cost_usd)
                .then_with(|| a.key.cmp(&b.key))
        });
    }
    v
}

/// The configured concentration threshold, as the last ingest recorded it.
async fn concentration_threshold(store: &Store) -> Result<f64> {
    Ok(store
        .cursor("spend", "concentration_threshold")
        .await?
        .and_then(|t| t.parse().ok())
        .unwrap_or(crate::concentration::DEFAULT_THRESHOLD))
}

pub async fn spend(store: &Store) -> Result<SpendView> {
    let now = chrono::Utc::now().timestamp();
    let threshold = concentration_threshold(store).await?;
    let since_ts = now - 30 * 86_400;
    let since = crate::days::of(since_ts);
    // Grouped in the database from the per-day rollup (never row by row here), the
    // independent parts at once: each is a read, and the pool has several connections.
    use crate::reports::SpendBy;
    let group = |by| crate::reports::spend_rows(store, by, None, None);
    let (
        (vendor, total),
        (model, _),
        (agent, _),
        (day, _),
        concentration,
        if_down,
        budgets,
        reconciliation,
        value,
    ) = tokio::try_join!(
        group(SpendBy::Vendor),
        group(SpendBy::Model),
        group(SpendBy::Agent),
        group(SpendBy::Day),
        crate::concentration::concentration(store, &since, threshold),
        crate::concentration::if_down_all(store, since_ts),
        crate::budgets::status(store, now),
        crate::billing::reconcile(store, &since, "9999-12-31"),
        crate::value::value(store, since_ts, now),
    )?;
    // Models without a price: those whose rows carry unpriced tokens.
    let unpriced_models = model
        .iter()
        .filter(|r| r.unpriced_tokens > 0)
        .map(|r| r.key.clone())
        .collect();
    let costs = |rows: Vec<crate::reports::SpendRow>| -> BTreeMap<String, f64> {
        rows.into_iter().map(|r| (r.key, r.cost_usd)).collect()
    };
    let (vendor, model, agent, day) = (costs(vendor), costs(model), costs(agent), costs(day));
    Ok(SpendView {
        total_usd: total.cost_usd,
        by_vendor: slices(vendor, total.cost_usd, true),
        by_model: slices(model, total.cost_usd, true),
        by_agent: slices(agent, total.cost_usd, true),
        by_day: slices(day, total.cost_usd, false),
        unpriced_tokens: total.unpriced_tokens,
        unpriced_models,
        budgets,
        reconciliation,
        value,
        if_down,
        concentration,
    })
}

/// Monday (UTC) of the week holding `ts`, as `YYYY-MM-DD`.
pub fn week_of(ts: i64) -> String {
    crate::days::week_of_day(&crate::days::of(ts))
}

/// Commits and changed lines per week, agent vs human, over the `weeks` weeks up to `now`.
pub async fn velocity(store: &Store, now: i64, weeks: i64) -> Result<VelocityView> {
    let from = now - weeks * 7 * 86_400;
    let commits = store.commits_between(from, now + 1).await?;
    let mut by: BTreeMap<String, WeekVelocity> = BTreeMap::new();
    let mut agent_total = 0i64;
    for c in &commits {
        let week = week_of(c.committed_at);
        let w = by.entry(week.clone()).or_insert_with(|| WeekVelocity {
            week,
            agent_commits: 0,
            human_commits: 0,
            agent_lines: 0,
            human_lines: 0,
        });
        let lines = c.insertions + c.deletions;
        if c.agent.is_some() {
            w.agent_commits += 1;
            w.agent_lines += lines;
            agent_total += 1;
        } else {
            w.human_commits += 1;
            w.human_lines += lines;
        }
    }
    Ok(VelocityView {
        work_done: crate::board::work_throughput(store, from).await?,
        weeks: by.into_values().collect(),
        agent_share: if commits.is_empty() {
            0.0
        } else {
            agent_total as f64 / commits.len() as f64
        },
    })
}

/// Page `page` of a local change request's diff; `None` when there is no such change.
pub async fn change_diff(
    store: &Store,
    id: &str,
    page: usize,
) -> Result<Option<crate::diff::ChangeDiff>> {
    let Some(c) = store.change_request(id).await? else {
        return Ok(None);
    };
    if c.kind != ChangeKind::Local {
        return Err(crate::Error::Invalid {
            path: c.id.into(),
            message: "diffs of GitHub pull requests are not fetched yet".into(),
        });
    }
    let repo = std::path::PathBuf::from(&c.repo);
    tokio::task::spawn_blocking(move || crate::diff::local_diff(&repo, &c.base, &c.head_sha, page))
        .await
        .map_err(|e| crate::Error::Invalid {
            path: id.into(),
            message: format!("diff task failed: {e}"),
        })?
        .map(Some)
        .map_err(|e| crate::Error::git(&c.repo, e))
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct OutboxView {
    /// In queue order: queued, sending, applied and failed actions.
    pub actions: Vec<Action>,
}

pub async fn outbox(store: &Store) -> Result<OutboxView> {
    Ok(OutboxView {
        actions: store.actions().await?,
    })
}

pub async fn audit(store: &Store) -> Result<AuditView> {
    let entries = store.audit_entries().await?;
    // Integrity only (chain, hashes, signatures): which keys to trust is the reader's call,
    // made with `flightdeck audit verify`, so every key present is taken as given here.
    let signers: Vec<String> = entries.iter().map(|e| e.signer.clone()).collect();
    let integrity = crate::audit::verify(&entries, &signers, &[]);
    Ok(AuditView { entries, integrity })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-25 is a Wednesday.
        let wed = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        assert_eq!(week_of(wed), "2026-11-23");
    }
}
