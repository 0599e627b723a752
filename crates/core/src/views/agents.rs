//! The Agents view: runs by agent with success and cost, and one run in detail.

use super::*;

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
    /// Each agent's totals over all its runs.
    pub agents: Vec<AgentSummary>,
    /// The runs still going and the [`RECENT_RUNS`] started last, newest first.
    pub runs: Vec<AgentRun>,
    /// Runs left out of `runs` (counted in `agents`).
    #[ts(type = "number")]
    pub runs_not_listed: i64,
}

/// How many of the newest runs the Agents view lists besides those still going (a team's year
/// is tens of thousands; the totals count them all).
pub const RECENT_RUNS: usize = 500;

pub async fn agents(store: &Store) -> Result<AgentsView> {
    let agents: Vec<AgentSummary> = store
        .agent_totals()
        .await?
        .into_iter()
        .map(|t| AgentSummary {
            agent: t.agent,
            runs: t.runs,
            running: t.running,
            tokens: t.tokens,
            cost_usd: t.cost_usd,
        })
        .collect();
    let runs = store.listed_runs(RECENT_RUNS as i64).await?;
    let all: i64 = agents.iter().map(|a| a.runs).sum();
    Ok(AgentsView {
        runs_not_listed: (all - runs.len() as i64).max(0),
        agents,
        runs,
    })
}

/// The view of `runs` (newest first): each agent's totals over them all, and the runs as
/// [`agents`] lists them.
pub fn summarise(mut runs: Vec<AgentRun>) -> AgentsView {
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
    // As `listed_runs` picks them: the ones still going, and the newest.
    let all = runs.len();
    let mut seen = 0;
    runs.retain(|r| {
        seen += 1;
        matches!(r.state, RunState::Running | RunState::Idle) || seen <= RECENT_RUNS
    });
    AgentsView {
        agents: by.into_values().collect(),
        runs_not_listed: (all - runs.len()) as i64,
        runs,
    }
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
