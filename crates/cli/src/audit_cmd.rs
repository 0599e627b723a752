//! `flightdeck audit verify|export|key|trust`: checking the signed, hash-chained audit log,
//! handing it to someone else with the public key that lets them check it too, and keeping the
//! team's keys (whose is whose) in the store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use flightdeck_app::Lead;
use flightdeck_core::config::Settings;
use flightdeck_core::domain::trust;
use flightdeck_core::model::audit::{self, Checkpoint, Verification};
use flightdeck_core::model::AuditEntry;
use flightdeck_core::store::Store;
use serde::{Deserialize, Serialize};

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check every entry: chained to the one before, unedited, signed by a trusted key, and
    /// none removed since this machine last wrote. Exit status 1 when anything is wrong.
    Verify {
        /// An exported log (`flightdeck audit export`) to check instead of the database. Give
        /// the sender's key with `--trust`: without it, the keys the file itself lists are
        /// trusted, and it says so (whoever rewrote the file could have listed their own).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Another trusted public key (hex), e.g. a second lead's; repeatable.
        #[arg(long = "trust", value_name = "KEY")]
        trust: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write the whole log, oldest first, with this machine's public key and checkpoint.
    Export {
        /// Output file (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Print this machine's audit public key (made on first use).
    Key,
    /// The team's trusted keys, kept in the store: whose key is whose.
    #[command(subcommand)]
    Trust(TrustCmd),
}

#[derive(Subcommand)]
pub enum TrustCmd {
    /// Trust a member's public key (`flightdeck audit key` on their machine prints it).
    Add {
        key: String,
        /// Whose key it is.
        #[arg(long)]
        name: String,
    },
    /// The trusted keys.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting a key.
    Remove { key: String },
}

/// An exported audit log: everything `verify --file` needs.
#[derive(Serialize, Deserialize)]
struct Export {
    format: String,
    exported_at: i64,
    public_keys: Vec<String>,
    checkpoints: Vec<Checkpoint>,
    entries: Vec<AuditEntry>,
}

const EXPORT_FORMAT: &str = "flightdeck-audit/1";

pub async fn run(settings: &Settings, lead: &Lead, cmd: &AuditCmd) -> Result<ExitCode> {
    let key = lead.key()?;
    match cmd {
        AuditCmd::Key => {
            outln!("{}", key.public_hex());
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Trust(t) => {
            let store = Store::open(&settings.database_url).await?;
            let now = chrono::Utc::now().timestamp();
            match t {
                TrustCmd::Add { key: k, name } => {
                    let added = trust::add(&store, &key, k, name, &lead.name, now).await?;
                    outln!("trusted {} as {}", audit::short(&added.key), added.name);
                }
                TrustCmd::Remove { key: k } => {
                    trust::remove(&store, &key, k, &lead.name, now).await?;
                    outln!("no longer trusted: {}", audit::short(k.trim()));
                }
                TrustCmd::List { json } => {
                    let keys = store.trusted_keys().await?;
                    if *json {
                        outln!("{}", serde_json::to_string_pretty(&keys)?);
                    } else if keys.is_empty() {
                        outln!("no key trusted yet besides this machine's (`flightdeck audit trust add KEY --name N`)");
                    } else {
                        for k in keys {
                            outln!("{}  {}  added by {}", k.key, k.name, k.added_by);
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Export { out } => {
            let store = Store::open_existing(&settings.database_url).await?;
            let mut entries = store.audit_entries().await?;
            entries.sort_by_key(|e| e.seq);
            let export = Export {
                format: EXPORT_FORMAT.into(),
                exported_at: chrono::Utc::now().timestamp(),
                public_keys: vec![key.public_hex()],
                checkpoints: key
                    .checkpoint(&store.target().identity())
                    .into_iter()
                    .collect(),
                entries,
            };
            let text = serde_json::to_string_pretty(&export)?;
            match out {
                Some(p) => {
                    std::fs::write(p, text + "\n")
                        .with_context(|| format!("cannot write {}", p.display()))?;
                    eprintln!(
                        "wrote {} entries to {}; signer key {}",
                        export.entries.len(),
                        p.display(),
                        audit::short(&export.public_keys[0])
                    );
                }
                None => outln!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Verify { file, trust, json } => {
            // This machine's key is its lead's; the team's keys are named in the store.
            let mut names = vec![(key.public_hex(), format!("{} (this machine)", lead.name))];
            let (entries, trusted, checkpoints) = match file {
                Some(f) => {
                    let e = read_export(f)?;
                    let trusted = if trust.is_empty() {
                        let listed: Vec<&str> =
                            e.public_keys.iter().map(|k| audit::short(k)).collect();
                        eprintln!(
                            "warning: {}: trusting the keys the file itself lists ({}): whoever \
                             could rewrite it could list their own; pass --trust KEY with the \
                             sender's key (`flightdeck audit key` on their machine)",
                            f.display(),
                            listed.join(", ")
                        );
                        e.public_keys
                    } else {
                        // The keys given, and those the log's own entries trust through them:
                        // never the keys the file lists.
                        let roots: Vec<String> =
                            trust.iter().map(|k| k.trim().to_lowercase()).collect();
                        trust::trusted_through_log(&e.entries, &roots)
                    };
                    (e.entries, trusted, e.checkpoints)
                }
                None => {
                    let store = Store::open_existing(&settings.database_url).await?;
                    let entries = store.audit_entries().await?;
                    // Trust comes from the signed log, rooted in this machine's key and the
                    // keys given here; the table only names the keys the log trusts.
                    let mut roots = vec![key.public_hex()];
                    roots.extend(trust.iter().map(|k| k.trim().to_lowercase()));
                    let trusted = trust::trusted_through_log(&entries, &roots);
                    let team = store.trusted_keys().await?;
                    names.extend(
                        team.into_iter()
                            .filter(|k| trusted.contains(&k.key) && k.key != key.public_hex())
                            .map(|k| (k.key, k.name)),
                    );
                    let checkpoint = key.checkpoint(&store.target().identity());
                    (entries, trusted, checkpoint.into_iter().collect())
                }
            };
            let mut v = audit::verify(&entries, &trusted, &checkpoints);
            v.name_signers(names.iter().map(|(k, n)| (k.as_str(), n.as_str())));
            if *json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_verification(&v);
            }
            Ok(if v.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn read_export(path: &Path) -> Result<Export> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let e: Export = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a Flightdeck audit export", path.display()))?;
    anyhow::ensure!(
        e.format == EXPORT_FORMAT,
        "{}: format `{}`, expected `{EXPORT_FORMAT}`",
        path.display(),
        e.format
    );
    Ok(e)
}

fn print_verification(v: &Verification) {
    for s in &v.signers {
        outln!(
            "signer {}  {}  {} entries",
            audit::short(&s.key),
            s.name
                .as_deref()
                .unwrap_or("UNKNOWN (not trusted: `flightdeck audit trust add`)"),
            s.entries
        );
    }
    // Decisions a paired device signed: proven to come from that device's own key.
    for d in &v.devices {
        outln!(
            "device {}  {}  {} signed decisions",
            d.fingerprint,
            d.name,
            d.decisions
        );
    }
    for p in &v.problems {
        outln!("entry {}: {}", p.seq, p.what);
    }
    if v.ok() {
        outln!("ok: {} entries, chain and signatures intact", v.entries);
    } else {
        outln!(
            "FAILED: {} problems in {} entries",
            v.problems.len(),
            v.entries
        );
    }
}
