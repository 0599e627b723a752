//! Whose audit key is whose: a team's members each sign with their own key (made on each
//! machine), and the shared store keeps the public keys the team trusts, with a name for each,
//! so `audit verify` names every signer and flags a key nobody added. Adding or removing a key
//! is itself a decision, signed in the audit log — and only that signed entry grants trust
//! ([`trusted_through_log`]): a key written straight into the table, by anyone who can write
//! the database, is named but not trusted.

use crate::model::audit::{self, AuditKey, Decision};
use crate::model::error::Error;
use crate::model::AuditEntry;
use crate::store::{Store, TrustedKey};

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("`{0}` is not an audit public key (64 hex digits; `flightdeck audit key` prints one)")]
    BadKey(String),
    #[error("a trusted key needs a name (--name \"Ana Lopez\")")]
    NoName,
    #[error("`{0}` is not a trusted key (`flightdeck audit trust list`)")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] Error),
}

/// A key as typed: trimmed, lower case, and a valid Ed25519 public key.
fn checked(key: &str) -> Result<String, TrustError> {
    let key = key.trim().to_ascii_lowercase();
    let bytes: [u8; 32] = hex::decode(&key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| TrustError::BadKey(key.chars().take(20).collect()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| TrustError::BadKey(key.chars().take(20).collect()))?;
    Ok(key)
}

/// Trusts `key` as `name`'s (renames it when trusted already); signed in the log by `by`.
pub async fn add(
    store: &Store,
    signer: &AuditKey,
    key: &str,
    name: &str,
    by: &str,
    now: i64,
) -> Result<TrustedKey, TrustError> {
    let key = checked(key)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(TrustError::NoName);
    }
    let k = TrustedKey {
        key: key.clone(),
        name: name.chars().take(80).collect(),
        added_at: now,
        added_by: by.into(),
    };
    store.trust_key(&k).await?;
    record(store, signer, by, "trust key", &key, &k.name, now).await?;
    Ok(k)
}

/// Stops trusting `key`; signed in the log by `by`.
pub async fn remove(
    store: &Store,
    signer: &AuditKey,
    key: &str,
    by: &str,
    now: i64,
) -> Result<(), TrustError> {
    let key = checked(key)?;
    if !store.untrust_key(&key).await? {
        return Err(TrustError::Unknown(audit::short(&key).to_string()));
    }
    record(store, signer, by, "untrust key", &key, "", now).await?;
    Ok(())
}

/// A change to the team's keys, signed in the log.
async fn record(
    store: &Store,
    signer: &AuditKey,
    by: &str,
    action: &str,
    key: &str,
    detail: &str,
    now: i64,
) -> Result<(), TrustError> {
    store
        .append_audit(
            signer,
            &Decision {
                at: now,
                actor: by,
                action,
                target: key,
                detail,
            },
        )
        .await?;
    Ok(())
}

/// The keys to trust when checking `entries`: the `roots` (this machine's key, keys given on
/// the command line), then, in log order, each key that an already trusted key added with a
/// signed, unedited "trust key" entry and did not remove since.
pub fn trusted_through_log(entries: &[AuditEntry], roots: &[String]) -> Vec<String> {
    let mut sorted: Vec<&AuditEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    let mut trusted: Vec<String> = roots.to_vec();
    for e in sorted {
        let adds = e.action == "trust key";
        if !(adds || e.action == "untrust key") || !trusted.contains(&e.signer) {
            continue;
        }
        let intact = audit::entry_hash_with(
            &e.prev_hash,
            e.seq,
            &e.decision(),
            &e.device_key,
            &e.device_signature,
        ) == e.hash
            && audit::verify_signed(&e.signer, &e.signature, &e.hash).is_ok();
        if !intact {
            continue;
        }
        if adds {
            if !trusted.contains(&e.target) {
                trusted.push(e.target.clone());
            }
        } else if !roots.contains(&e.target) {
            trusted.retain(|k| *k != e.target);
        }
    }
    trusted
}
