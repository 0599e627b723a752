//! `flightdeck audit verify|export|key`: checking the signed, hash-chained audit log, and
//! handing it to someone else with the public key that lets them check it too.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use flightdeck_app::Lead;
use flightdeck_core::config::Settings;
use flightdeck_core::model::audit::{self, Checkpoint, Verification};
use flightdeck_core::model::AuditEntry;
use flightdeck_core::store::Store;
use serde::{Deserialize, Serialize};

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check every entry: chained to the one before, unedited, signed by a trusted key, and
    /// none removed since this machine last wrote. Exit status 1 when anything is wrong.
    Verify {
        /// An exported log (`flightdeck audit export`) to check instead of the database; the
        /// keys it lists are trusted (compare their fingerprints with the sender's).
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
            println!("{}", key.public_hex());
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Export { out } => {
            let store = Store::open(&settings.database_url).await?;
            let mut entries = store.audit_entries().await?;
            entries.sort_by_key(|e| e.seq);
            let export = Export {
                format: EXPORT_FORMAT.into(),
                exported_at: chrono::Utc::now().timestamp(),
                public_keys: vec![key.public_hex()],
                checkpoints: key.checkpoint().into_iter().collect(),
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
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Verify { file, trust, json } => {
            let (entries, mut trusted, checkpoints) = match file {
                Some(f) => {
                    let e = read_export(f)?;
                    (e.entries, e.public_keys, e.checkpoints)
                }
                None => {
                    let store = Store::open(&settings.database_url).await?;
                    (
                        store.audit_entries().await?,
                        vec![key.public_hex()],
                        key.checkpoint().into_iter().collect(),
                    )
                }
            };
            trusted.extend(trust.iter().map(|k| k.trim().to_lowercase()));
            let v = audit::verify(&entries, &trusted, &checkpoints);
            if *json {
                println!("{}", serde_json::to_string_pretty(&v)?);
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
        println!("signer {}  {} entries", audit::short(&s.key), s.entries);
    }
    // Decisions a paired device signed: proven to come from that device's own key.
    for d in &v.devices {
        println!(
            "device {}  {}  {} signed decisions",
            d.fingerprint, d.name, d.decisions
        );
    }
    for p in &v.problems {
        println!("entry {}: {}", p.seq, p.what);
    }
    if v.ok() {
        println!("ok: {} entries, chain and signatures intact", v.entries);
    } else {
        println!(
            "FAILED: {} problems in {} entries",
            v.problems.len(),
            v.entries
        );
    }
}
