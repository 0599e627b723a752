//! `flightdeck work list | add | assign | state | dispatch | cancel`: work items for people and
//! agents, each change of hands audited; dispatching one to a configured agent runs the agent in
//! a worktree of its own, in the foreground, with its output shown (Ctrl-C cancels it).

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use flightdeck_app::work::Launch;
use flightdeck_app::Lead;
use flightdeck_core::config::Settings;
use flightdeck_core::domain::dispatch::{self, Progress};
use flightdeck_core::domain::work;
use flightdeck_core::model::events::EventBus;
use flightdeck_core::model::{Dispatch, DispatchState};
use flightdeck_core::store::Store;

#[derive(Subcommand)]
pub enum WorkCmd {
    /// Work items with their assignee, state and links; the configured agents.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A new work item (state todo).
    Add {
        title: String,
        /// The task in full (an agent's prompt).
        #[arg(long, default_value = "")]
        body: String,
        /// The repository it is for: a clone's path, a repo id or a name (stored as the repo's
        /// id, so any machine with a clone can dispatch it).
        #[arg(long)]
        repo: Option<String>,
        /// person:NAME or agent:NAME (a configured agent).
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Hand a work item to a person or an agent (audited).
    Assign {
        id: String,
        /// person:NAME or agent:NAME.
        assignee: String,
        #[arg(long)]
        json: bool,
    },
    /// Move a work item: todo, in_progress, in_review, done, dropped (audited).
    State {
        id: String,
        state: String,
        #[arg(long)]
        json: bool,
    },
    /// Hand a work item to an agent and run it now: a worktree on a new branch from the base,
    /// the agent's command with the task as its prompt, its output shown as it comes (waits
    /// while the agent is at its concurrency limit; Ctrl-C cancels).
    Dispatch {
        id: String,
        /// A configured agent; default: the item's assignee when that is an agent.
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Stop a queued or running dispatch (its whole process tree; the worktree is kept).
    Cancel {
        dispatch: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: &Settings, lead: &Lead, cmd: &WorkCmd) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    let actor = lead.name.clone();
    let key = || lead.key();
    let show = |w: &flightdeck_core::model::WorkItem| {
        let links: Vec<String> = w
            .links
            .iter()
            .map(|l| format!("{}:{}", l.kind, l.target))
            .collect();
        outln!(
            "{}  {:<11} {:<22} {}{}",
            w.id,
            w.state,
            w.assignee.as_deref().unwrap_or("-"),
            w.title,
            if links.is_empty() {
                String::new()
            } else {
                format!("  [{}]", links.join(", "))
            }
        );
    };
    match cmd {
        WorkCmd::List { json } => {
            let items = store.work_items().await?;
            if *json {
                let agents: Vec<serde_json::Value> = settings
                    .agents
                    .iter()
                    .map(|(name, a)| serde_json::json!({"name": name, "vendor": a.vendor, "model": a.model, "concurrency": a.concurrency.unwrap_or(1)}))
                    .collect();
                let dispatches = store.dispatches().await?;
                let v = serde_json::json!({"work_items": items, "agents": agents, "dispatches": dispatches});
                outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            if items.is_empty() {
                outln!("no work items; `flightdeck work add \"title\"` adds one");
            }
            for w in &items {
                show(w);
            }
            let dispatches = store.dispatches().await?;
            if !dispatches.is_empty() {
                outln!("dispatches:");
            }
            for d in dispatches.iter().take(20) {
                show_dispatch(d);
            }
            if settings.agents.is_empty() {
                outln!("no agents configured: add [agents.NAME] with a command to the config");
            } else {
                outln!(
                    "agents: {}",
                    settings
                        .agents
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        WorkCmd::Add {
            title,
            body,
            repo,
            assignee,
            json,
        } => {
            let assignee = assignee
                .as_deref()
                .map(|a| work::parse_assignee(a, &settings.agents))
                .transpose()?;
            let w = work::add(
                &store,
                &key()?,
                &actor,
                title,
                body,
                repo.as_deref(),
                assignee,
                now,
            )
            .await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&w)?);
            } else {
                show(&w);
            }
        }
        WorkCmd::Assign { id, assignee, json } => {
            let assignee = work::parse_assignee(assignee, &settings.agents)?;
            let key = key()?;
            let by = work::Actor {
                key: &key,
                name: &actor,
                now,
            };
            let w = work::assign(&store, &by, id, assignee).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&w)?);
                return Ok(ExitCode::SUCCESS);
            }
            show(&w);
            if flightdeck_core::domain::issues::issue_of(id).is_some() {
                outln!(
                    "queued for GitHub (assignees and agent label); `flightdeck sync` sends it now, serve and the desktop app in the background"
                );
            }
        }
        WorkCmd::State { id, state, json } => {
            let key = key()?;
            let by = work::Actor {
                key: &key,
                name: &actor,
                now,
            };
            let w = work::set_state(&store, &by, id, state).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&w)?);
            } else {
                show(&w);
            }
        }
        WorkCmd::Dispatch { id, agent, json } => {
            return dispatch(lead, &store, id, agent.as_deref(), *json).await;
        }
        WorkCmd::Cancel { dispatch: id, json } => {
            let key = key()?;
            let by = work::Actor {
                key: &key,
                name: &actor,
                now,
            };
            let d = dispatch::cancel(&store, &by, id).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                show_dispatch(&d);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_dispatch(d: &Dispatch) {
    outln!(
        "{}  {:<9} {:<10} {} on {}{}",
        d.id,
        d.state,
        d.agent,
        d.work_item,
        d.branch,
        d.error
            .as_deref()
            .map(|e| format!("  ({e})"))
            .unwrap_or_default()
    );
}

/// `work dispatch`: queued through the app layer (as the UI does), then run here.
async fn dispatch(
    lead: &Lead,
    store: &Store,
    id: &str,
    agent: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    // Repos added since the last scan become known (and their branches current) first.
    let sources = lead.sources_with_watched(store).await?;
    flightdeck_core::domain::ingest::run(store, &sources, None, chrono::Utc::now().timestamp())
        .await?;
    let bus = EventBus::new();
    let mut published = bus.outbound();
    let now = chrono::Utc::now().timestamp();
    let queued =
        flightdeck_app::work::dispatch(lead, store, &bus, id, agent, Launch::Queued, now).await?;
    crate::tell_others(store, &mut published).await;
    run_dispatch(store, lead, &queued, json).await
}

/// Runs a queued dispatch in the foreground: its output printed as it comes (unless `json`),
/// Ctrl-C cancels it; exit code 1 unless it succeeded.
pub async fn run_dispatch(
    store: &Store,
    lead: &Lead,
    queued: &Dispatch,
    json: bool,
) -> Result<ExitCode> {
    let agent = &queued.agent;
    let d = lead.dispatcher(store, None).await?;
    eprintln!(
        "{}: {agent} on {} in {}",
        queued.id, queued.branch, queued.worktree
    );
    let run = d.run(&queued.id, |p| match p {
        Progress::Waiting { running, limit } => {
            eprintln!("waiting: {agent} has {running} of {limit} dispatches running")
        }
        Progress::Started { pid } => eprintln!("started (pid {pid})"),
        Progress::Line(l) if !json => outln!("{l}"),
        Progress::Line(_) => {}
    });
    tokio::pin!(run);
    let ended = tokio::select! {
        r = &mut run => r?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("cancelling {} …", queued.id);
            let key = lead.key()?;
            let by = work::Actor { key: &key, name: &lead.name, now: chrono::Utc::now().timestamp() };
            dispatch::cancel(store, &by, &queued.id).await?;
            run.await?
        }
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&ended)?);
    } else {
        show_dispatch(&ended);
    }
    Ok(if ended.state == DispatchState::Succeeded {
        ExitCode::SUCCESS
    } else {
        if !json {
            eprintln!(
                "error: dispatch {} {}: {}",
                ended.id,
                ended.state,
                ended.error.as_deref().unwrap_or("no reason recorded")
            );
        }
        ExitCode::from(1)
    })
}
