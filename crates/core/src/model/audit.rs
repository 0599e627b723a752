//! Trust in the audit log. Every entry is hash-chained to the one before it (the hash covers
//! the previous hash, the sequence number and every field) and signed with the lead's Ed25519
//! key, so an approval given offline can be checked later by anyone holding the public key.
//!
//! `verify` reports each entry that was edited (its hash no longer matches its fields), removed
//! or reordered (the chain or the numbering breaks), forged (a signature that does not verify,
//! or one by a key nobody trusts). Removing the newest entries leaves a valid shorter chain, so
//! each signer also keeps a checkpoint of the last entry it wrote in each database next to its
//! key, moved only forward; a log that no longer reaches its checkpoint is reported as truncated.
//!
//! The key is a 0600 file in the data directory (made on first use; a key file others can read
//! is refused). Its public half is the signer id stored with each entry.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::model::AuditEntry;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    BadKey { path: PathBuf, why: String },
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

/// Where this machine's key is: `FLIGHTDECK_AUDIT_KEY`, or `audit-key` in the data dir.
pub fn key_path(data_dir: &Path) -> PathBuf {
    std::env::var_os("FLIGHTDECK_AUDIT_KEY")
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.join("audit-key"))
}

/// The lead's signing key, with where its checkpoint lives.
pub struct AuditKey {
    key: SigningKey,
    checkpoint: PathBuf,
}

/// The last entry a signer wrote: the log must still reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
}

/// The checkpoint file: one checkpoint per database the key signs in (a lead's own SQLite
/// file and the team's PostgreSQL have logs of their own), by `DatabaseTarget::identity`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoints {
    databases: std::collections::BTreeMap<String, Checkpoint>,
    /// The one checkpoint a file from before they were kept per database held, for whichever
    /// database it was: taken for any database until the first entry is recorded in the new
    /// form, then dropped (kept longer, it would raise false alarms on every other database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    legacy: Option<Checkpoint>,
}

impl Checkpoints {
    fn read(path: &Path) -> Checkpoints {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Checkpoints::default();
        };
        match serde_json::from_str::<Checkpoints>(&text) {
            Ok(all) => all,
            Err(_) => Checkpoints {
                databases: Default::default(),
                legacy: serde_json::from_str::<Checkpoint>(&text).ok(),
            },
        }
    }
}

impl AuditKey {
    /// The key at `path`, made (with a fresh random seed, mode 0600) when there is none.
    pub fn load_or_create(path: &Path) -> Result<Self, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bad = |why: String| AuditError::BadKey {
            path: path.to_path_buf(),
            why,
        };
        let seed: [u8; 32] = if path.exists() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(bad(format!(
                        "the audit key is readable by others (mode {:o}); run chmod 600 on it",
                        mode & 0o777
                    )));
                }
            }
            let text = std::fs::read_to_string(path).map_err(io)?;
            let bytes = hex::decode(text.trim())
                .map_err(|e| bad(format!("not a hex Ed25519 seed: {e}")))?;
            bytes
                .try_into()
                .map_err(|b: Vec<u8>| bad(format!("seed is {} bytes, expected 32", b.len())))?
        } else {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).map_err(|e| AuditError::Random(e.to_string()))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            // Another process (or task) may make the key at the same moment: the first one
            // written wins and everyone signs with it.
            if create_private(path, &hex::encode(seed)).map_err(io)? {
                seed
            } else {
                return Self::load_or_create(path);
            }
        };
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
            checkpoint: path.with_extension("checkpoint"),
        })
    }

    /// The public key, hex: the signer id stored with each entry.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The signature of an entry hash, hex.
    pub fn sign(&self, hash: &str) -> String {
        hex::encode(self.key.sign(hash.as_bytes()).to_bytes())
    }

    /// The checkpoint of the last entry this key wrote in `database`, if any. A file from
    /// before checkpoints were kept per database holds one for whichever it was: it stands for
    /// any database until the next entry is written.
    pub fn checkpoint(&self, database: &str) -> Option<Checkpoint> {
        let all = Checkpoints::read(&self.checkpoint);
        match all.databases.get(database) {
            Some(c) => Some(c.clone()),
            None if all.databases.is_empty() => all.legacy,
            None => None,
        }
    }

    /// Records the entry just written in `database` as this signer's checkpoint there — only
    /// ever forward: of two writers finishing out of order, the later entry stays the
    /// checkpoint, so cutting it off the log is still found. Writers on this machine take
    /// turns on a lock file beside the checkpoint.
    pub fn record(&self, database: &str, seq: i64, hash: &str) -> Result<(), AuditError> {
        let io = |source| AuditError::Io {
            path: self.checkpoint.clone(),
            source,
        };
        let _lock =
            FileLock::take(&self.checkpoint.with_extension("checkpoint.lock")).map_err(io)?;
        let mut all = Checkpoints::read(&self.checkpoint);
        all.legacy = None;
        if all.databases.get(database).is_some_and(|c| c.seq >= seq) {
            return Ok(());
        }
        all.databases.insert(
            database.to_string(),
            Checkpoint {
                seq,
                hash: hash.to_string(),
            },
        );
        let text = serde_json::to_string(&all).unwrap_or_default();
        write_private(&self.checkpoint, &text).map_err(io)
    }
}

/// An exclusive lock on a file, held until dropped (the file closed); other processes and
/// other handles in this one wait for it.
struct FileLock(#[allow(dead_code)] std::fs::File);

impl FileLock {
    fn take(path: &Path) -> std::io::Result<FileLock> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(path)?;
        file.lock()?;
        Ok(FileLock(file))
    }
}

/// Writes a file only its owner can read, replacing it atomically.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = write_temp(path, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Writes a file only its owner can read unless one is already there: false when it was.
fn create_private(path: &Path, text: &str) -> std::io::Result<bool> {
    let tmp = write_temp(path, text)?;
    // A hard link, unlike a rename, refuses to replace: the file appears whole or not at all.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// `text` in a synced 0600 file beside `path`, named for this writer alone so concurrent
/// writers (dispatches finishing together, a CLI beside the server) never share one.
fn write_temp(path: &Path, text: &str) -> std::io::Result<PathBuf> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let mut opts = std::fs::OpenOptions::new();
    // Truncate, not create_new: a leftover of a crashed writer with the same pid is stale.
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    let written = std::io::Write::write_all(&mut f, text.as_bytes()).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// One decision to record: who did what to which target, when, and why.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a str,
}

impl AuditEntry {
    /// The decision this entry records.
    pub fn decision(&self) -> Decision<'_> {
        Decision {
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            detail: &self.detail,
        }
    }
}

/// A paired device's mark on an audit entry: its key, and its signature of the entry's detail
/// (empty for its enrolment).
#[derive(Debug, Clone, Copy)]
pub struct DeviceMark<'a> {
    pub key: &'a str,
    pub signature: &'a str,
}

/// The hash of an entry: SHA-256 over the previous hash, the sequence number and every field,
/// each followed by a NUL so no field can bleed into the next.
pub fn entry_hash(prev_hash: &str, seq: i64, d: &Decision) -> String {
    entry_hash_with(prev_hash, seq, d, "", "")
}

/// [`entry_hash`] of an entry that may carry a device's key and signature: they are hashed
/// (so neither can be stripped or swapped) when present, so entries without them hash as
/// they always did.
pub fn entry_hash_with(
    prev_hash: &str,
    seq: i64,
    d: &Decision,
    device_key: &str,
    device_signature: &str,
) -> String {
    let mut h = Sha256::new();
    let seq = seq.to_string();
    let at = d.at.to_string();
    let mut parts = vec![prev_hash, &seq, &at, d.actor, d.action, d.target, d.detail];
    if !device_key.is_empty() || !device_signature.is_empty() {
        parts.extend([device_key, device_signature]);
    }
    for part in parts {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Verification {
    #[ts(type = "number")]
    pub entries: usize,
    /// What is wrong, in log order; empty when the log is intact.
    pub problems: Vec<AuditProblem>,
    /// Each signer's public key and how many entries it signed.
    pub signers: Vec<AuditSigner>,
    /// Each paired device whose signed decisions are in the log.
    #[serde(default)]
    pub devices: Vec<AuditDevice>,
}

/// A paired device as the log knows it: enrolled in one entry, signing decisions in others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditDevice {
    /// Its public key's fingerprint (`model::device::fingerprint`).
    pub fingerprint: String,
    /// What it was called when paired.
    pub name: String,
    /// Decisions it signed whose signatures verify.
    #[ts(type = "number")]
    pub decisions: usize,
}

/// The action of the entry that enrols a device: its key in `device_key`, its name in
/// `detail`. Decisions a device signs are entries whose action ends in [`SIGNED_SUFFIX`].
pub const DEVICE_PAIRED: &str = "device paired";
/// `approve` + this: the action of an entry recording a decision a device signed.
pub const SIGNED_SUFFIX: &str = " signed on device";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditProblem {
    #[ts(type = "number")]
    pub seq: i64,
    /// Reads after "entry N": "was edited: …", "is missing: …".
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditSigner {
    /// Ed25519 public key, hex.
    pub key: String,
    #[ts(type = "number")]
    pub entries: usize,
    /// Whose key it is, when the team trusts it (`flightdeck audit trust add`).
    #[serde(default)]
    pub name: Option<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Names each signer whose key is among `names` (key hex, name).
    pub fn name_signers<'a>(&mut self, names: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let names: std::collections::HashMap<&str, &str> = names.into_iter().collect();
        for s in &mut self.signers {
            s.name = names.get(s.key.as_str()).map(|n| n.to_string());
        }
    }
}

/// Checks a whole log (any order; it is sorted by seq here) against the trusted public keys
/// (hex) and, when given, the checkpoints the log must still reach.
pub fn verify(
    entries: &[AuditEntry],
    trusted: &[String],
    checkpoints: &[Checkpoint],
) -> Verification {
    let mut sorted: Vec<&AuditEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    let mut problems: Vec<(i64, String)> = Vec::new();
    let mut v = Verification {
        entries: sorted.len(),
        ..Default::default()
    };
    let mut signers = std::collections::BTreeMap::<String, usize>::new();
    let mut devices = std::collections::BTreeMap::<String, AuditDevice>::new();
    let mut prev: Option<&AuditEntry> = None;
    for e in &sorted {
        let expected_seq = prev.map_or(1, |p| p.seq + 1);
        if e.seq != expected_seq {
            problems.push((
                e.seq,
                if e.seq > expected_seq {
                    format!(
                        "entries {expected_seq}..{} are missing (removed)",
                        e.seq - 1
                    )
                } else {
                    format!("sequence number {} appears twice", e.seq)
                },
            ));
        }
        let want_prev = prev.map_or("", |p| p.hash.as_str());
        if e.prev_hash != want_prev {
            problems.push((
                e.seq,
                "does not follow the entry before it (an entry was removed, inserted or reordered)"
                    .into(),
            ));
        }
        let hash = entry_hash_with(
            &e.prev_hash,
            e.seq,
            &e.decision(),
            &e.device_key,
            &e.device_signature,
        );
        if hash != e.hash {
            problems.push((
                e.seq,
                "was edited: its hash does not match its fields".into(),
            ));
        }
        match check_signature(e) {
            Ok(()) if trusted.contains(&e.signer) => {}
            Ok(()) => problems.push((
                e.seq,
                format!(
                    "is signed by a key that is not trusted: {}",
                    short(&e.signer)
                ),
            )),
            Err(why) => problems.push((e.seq, why)),
        }
        if let Some(why) = check_device(e, &mut devices) {
            problems.push((e.seq, why));
        }
        *signers.entry(e.signer.clone()).or_default() += 1;
        prev = Some(e);
    }
    for cp in checkpoints {
        match sorted.iter().find(|e| e.seq == cp.seq) {
            Some(e) if e.hash == cp.hash => {}
            Some(_) => problems.push((
                cp.seq,
                "differs from the signer's checkpoint of it (rewritten)".into(),
            )),
            None => problems.push((
                cp.seq,
                format!(
                    "is missing: the signer's checkpoint says the log reached entry {} (truncated)",
                    cp.seq
                ),
            )),
        }
    }
    v.problems = problems
        .into_iter()
        .map(|(seq, what)| AuditProblem { seq, what })
        .collect();
    v.signers = signers
        .into_iter()
        .map(|(key, entries)| AuditSigner {
            key,
            entries,
            name: None,
        })
        .collect();
    v.devices = devices.into_values().collect();
    v
}

/// The device side of one entry: an enrolment is noted; a decision signed on a device must
/// carry the signature of a device enrolled earlier in the log, over a statement that says
/// what the entry says. What is wrong, if anything.
fn check_device(
    e: &AuditEntry,
    devices: &mut std::collections::BTreeMap<String, AuditDevice>,
) -> Option<String> {
    use crate::model::device;
    if e.action == DEVICE_PAIRED && e.device_signature.is_empty() {
        if e.device_key.is_empty() {
            return Some("enrols a device but names no key".into());
        }
        devices.insert(
            e.device_key.clone(),
            AuditDevice {
                fingerprint: device::fingerprint(&e.device_key),
                name: e.detail.clone(),
                decisions: 0,
            },
        );
        return None;
    }
    let signed_kind = e.action.strip_suffix(SIGNED_SUFFIX);
    if e.device_key.is_empty() && e.device_signature.is_empty() && signed_kind.is_none() {
        return None;
    }
    let Some(kind) = signed_kind else {
        return Some("carries a device key or signature on an entry no device signs".into());
    };
    let Some(known) = devices.get_mut(&e.device_key) else {
        return Some(format!(
            "is signed by a device never paired in this log: {}",
            device::fingerprint(&e.device_key)
        ));
    };
    if let Err(why) = device::verify(&e.device_key, e.detail.as_bytes(), &e.device_signature) {
        return Some(format!(
            "was not signed by device {}: {why}",
            known.fingerprint
        ));
    }
    match device::Statement::parse(&e.detail) {
        Ok(s) if s.kind == kind && s.target == e.target => {
            known.decisions += 1;
            None
        }
        Ok(s) => Some(format!(
            "says `{kind}` on {} but the device signed `{}` on {}",
            e.target, s.kind, s.target
        )),
        Err(why) => Some(why.to_string()),
    }
}

fn check_signature(e: &AuditEntry) -> Result<(), String> {
    if e.signature.is_empty() {
        return Err("is not signed".into());
    }
    verify_signed(&e.signer, &e.signature, &e.hash)
}

/// Whether `signature` (hex) is `signer`'s (hex Ed25519 public key) over `message`.
pub fn verify_signed(signer: &str, signature: &str, message: &str) -> Result<(), String> {
    let key: [u8; 32] = hex::decode(signer)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            format!(
                "names a signer that is not an Ed25519 key: {}",
                short(signer)
            )
        })?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| format!("names an invalid Ed25519 key: {}", short(signer)))?;
    let sig: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("has a malformed signature")?;
    key.verify(message.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| {
            "has a signature that does not verify (forged, or the entry was edited)".into()
        })
}

/// A key's first 16 hex digits, enough to tell keys apart in a message.
pub fn short(key: &str) -> &str {
    key.get(..16).unwrap_or(key)
}
