//! `flightdeck work list | add | assign | state`: work items for people and agents, each
//! change of hands audited. (Dispatching to an agent and cancelling come next: issue 6.)

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use flightdeck_core::audit::AuditKey;
use flightdeck_core::config::Settings;
use flightdeck_core::store::Store;
use flightdeck_core::work;

use crate::audit_cmd;

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
        /// The repository it is for (path).
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
    },
    /// Move a work item: todo, in_progress, in_review, done, dropped (audited).
    State { id: String, state: String },
}

pub async fn run(settings: &Settings, cmd: &WorkCmd) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    let actor = flightdeck_core::outbox::lead_identity().0;
    let key = || AuditKey::load_or_create(&audit_cmd::key_path(settings));
    let show = |w: &flightdeck_core::model::WorkItem| {
        let links: Vec<String> = w
            .links
            .iter()
            .map(|l| format!("{}:{}", l.kind, l.target))
            .collect();
        println!(
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
                let v = serde_json::json!({"work_items": items, "agents": agents});
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            if items.is_empty() {
                println!("no work items; `flightdeck work add \"title\"` adds one");
            }
            for w in &items {
                show(w);
            }
            if settings.agents.is_empty() {
                println!("no agents configured: add [agents.NAME] with a command to the config");
            } else {
                println!(
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
                println!("{}", serde_json::to_string_pretty(&w)?);
            } else {
                show(&w);
            }
        }
        WorkCmd::Assign { id, assignee } => {
            let assignee = work::parse_assignee(assignee, &settings.agents)?;
            let key = key()?;
            let by = work::Actor {
                key: &key,
                name: &actor,
                now,
            };
            show(&work::assign(&store, &by, id, assignee).await?);
        }
        WorkCmd::State { id, state } => {
            let key = key()?;
            let by = work::Actor {
                key: &key,
                name: &actor,
                now,
            };
            show(&work::set_state(&store, &by, id, state).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
