//! `flightdeck release list | show | approve | reject | verify-tag`: releases approved or
//! rejected through the app layer (signed; a waiting GitHub run hears it through the outbox).

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;
use flightdeck_app::Lead;
use flightdeck_core::config::Settings;
use flightdeck_core::domain::deploys;
use flightdeck_core::store::Store;

#[derive(Subcommand)]
pub enum ReleaseCmd {
    /// Releases, newest first, with their state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A release: every commit and change it holds over what is deployed, risk signals.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending release: signed in the audit log now; a GitHub run waiting on the
    /// environment is approved through the outbox (now if online, else when it is).
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
        /// Also make a signed annotated tag named after the release at its commit.
        #[arg(long)]
        tag: bool,
        #[arg(long)]
        json: bool,
    },
    /// Reject a pending release (a reason is needed); as approve.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Check a release tag's signed approval (this machine's key is trusted; add others with
    /// --trust).
    VerifyTag {
        name: String,
        /// The repo (path or name); needed when several are watched.
        #[arg(long)]
        repo: Option<String>,
        /// A public key (hex) to trust besides this machine's.
        #[arg(long)]
        trust: Vec<String>,
    },
}

pub async fn run(settings: &Settings, lead: &Lead, cmd: &ReleaseCmd) -> Result<ExitCode> {
    use flightdeck_core::domain::releases;
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    match cmd {
        ReleaseCmd::List { json } => {
            let list = store.releases().await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                outln!("no releases yet");
            }
            if !*json {
                for r in &list {
                    outln!(
                        "{:<28} {:<10} {:<9} {:<11} {}",
                        r.id,
                        r.name,
                        r.state,
                        r.environment,
                        r.approved_by.as_deref().unwrap_or("")
                    );
                }
            }
        }
        ReleaseCmd::Show { id, json } => {
            let d = releases::detail(&store, id).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(ExitCode::SUCCESS);
            }
            outln!(
                "{} {} for {} ({}): {} commits over {}",
                d.release.name,
                d.release.state,
                d.release.environment,
                d.release.id,
                d.commits.len(),
                d.since
                    .as_deref()
                    .map_or("nothing deployed", |s| &s[..s.len().min(12)])
            );
            for c in &d.commits {
                outln!(
                    "  {} {:<10} {}",
                    &c.sha[..c.sha.len().min(12)],
                    c.agent.as_deref().unwrap_or("human"),
                    c.summary
                );
            }
            for c in &d.changes {
                outln!(
                    "  change {} ({}) {}",
                    c.id,
                    c.author_kind,
                    c.signals.join("; ")
                );
            }
            for s in &d.signals {
                outln!("  ! {s}");
            }
            if d.clear {
                outln!("  no risk signals");
            }
        }
        ReleaseCmd::VerifyTag { name, repo, trust } => {
            let picked = deploys::pick_repo(&store, repo.as_deref()).await?;
            let Some(path) = picked.path else {
                bail!(
                    "{} has no clone on this machine to read tag {name} from",
                    picked.id
                );
            };
            let key = lead.key()?;
            let mut trusted = trust.clone();
            trusted.push(key.public_hex());
            match releases::verify_tag(std::path::Path::new(&path), name, &trusted) {
                Ok(statement) => outln!("ok: {statement}"),
                Err(why) => bail!("tag {name}: {why}"),
            }
        }
        ReleaseCmd::Approve {
            id, reason, json, ..
        }
        | ReleaseCmd::Reject { id, reason, json } => {
            let approve = matches!(cmd, ReleaseCmd::Approve { .. });
            let tag = matches!(cmd, ReleaseCmd::Approve { tag: true, .. });
            let bus = flightdeck_core::model::events::EventBus::new();
            let mut published = bus.outbound();
            let decided =
                flightdeck_app::release::decide(lead, &store, &bus, id, approve, reason, None, now)
                    .await?;
            crate::tell_others(&store, &mut published).await;
            let r = decided.release;
            let key = lead.key()?;
            let actor = &lead.name;
            // Send it now if GitHub answers; else it waits in the outbox.
            if decided.queued_for_github {
                let appliers = lead.appliers(&store)?;
                // One try per host: a GitHub that does not answer is not asked once per action.
                let rep = flightdeck_core::domain::outbox::sync_with(
                    &store,
                    &appliers,
                    &key,
                    &appliers.reach,
                    now,
                )
                .await?;
                if !*json {
                    if rep.applied + rep.confirmed > 0 {
                        outln!("GitHub: the waiting run was reviewed");
                    } else {
                        outln!("GitHub did not answer: queued; `flightdeck sync` sends it later");
                    }
                }
            }
            if tag {
                let Some(clone) = store.repo_path(&r.repo).await? else {
                    bail!("{} has no clone on this machine to tag", r.repo);
                };
                let t = releases::tag_release(
                    std::path::Path::new(&clone),
                    &r,
                    &key,
                    (&lead.name, &lead.email),
                )?;
                if !*json {
                    outln!("tagged {t} (signed; `flightdeck release verify-tag {t}`)");
                }
            }
            if *json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                outln!(
                    "{} {} by {} (signed in the audit log: `flightdeck audit verify`)",
                    r.name,
                    r.state,
                    actor
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
