//! `flightdeck incident record | list`: incidents from a pager or by hand, for DORA.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use flightdeck_core::config::Settings;
use flightdeck_core::store::Store;

use crate::deploy_cmd::parse_time;

#[derive(Subcommand)]
pub enum IncidentCmd {
    /// Record an incident from a pager or by hand (a second record with the same --id updates
    /// it: record it when it opens, again with --closed when it is over). DORA counts it
    /// against the last successful production deploy before it opened.
    Record {
        #[arg(long)]
        title: String,
        /// When it began: RFC 3339 or Unix seconds; default now.
        #[arg(long)]
        opened: Option<String>,
        /// When it was over.
        #[arg(long)]
        closed: Option<String>,
        /// The repo (path or name); needed when several are watched.
        #[arg(long)]
        repo: Option<String>,
        /// The pager's id for it.
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Incidents (from labelled issues and recorded ones), oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn show_incident(i: &flightdeck_core::model::Incident) {
    let when = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    outln!(
        "{:<28} {}  {:<16}  {}",
        i.id,
        when(i.opened_at),
        i.closed_at
            .map_or_else(|| "open".to_string(), |c| format!("closed {}", when(c))),
        i.title
    );
}

pub async fn run(settings: &Settings, cmd: &IncidentCmd) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    match cmd {
        IncidentCmd::Record {
            title,
            opened,
            closed,
            repo,
            id,
            url,
            json,
        } => {
            // The repos must be known to say which one it is in.
            flightdeck_core::domain::ingest::run(&store, &settings.sources(), None, now).await?;
            let r = flightdeck_core::domain::incidents::IncidentRecord {
                repo: repo.clone(),
                title: title.clone(),
                opened: opened
                    .as_deref()
                    .map(|t| parse_time("--opened", t))
                    .transpose()?,
                closed: closed
                    .as_deref()
                    .map(|t| parse_time("--closed", t))
                    .transpose()?,
                id: id.clone(),
                url: url.clone(),
            };
            let i = flightdeck_core::domain::incidents::record(&store, &r, now).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&i)?);
            } else {
                show_incident(&i);
            }
        }
        IncidentCmd::List { json } => {
            let list = store.incidents(None, i64::MIN).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                outln!("no incidents; issues labelled `incident` on GitHub, or `flightdeck incident record --title T`, add them");
            } else {
                list.iter().for_each(show_incident);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
