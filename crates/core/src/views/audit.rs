//! The Audit view: the signed log with its integrity checked.

use super::*;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AuditView {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Chain, hashes and signatures checked (not which keys to trust).
    pub integrity: crate::model::audit::Verification,
}

pub async fn audit(store: &Store) -> Result<AuditView> {
    let entries = store.audit_entries().await?;
    // Integrity only (chain, hashes, signatures): which keys to trust is the reader's call,
    // made with `flightdeck audit verify`, so every key present is taken as given here.
    let signers: Vec<String> = entries.iter().map(|e| e.signer.clone()).collect();
    let mut integrity = crate::model::audit::verify(&entries, &signers, &[]);
    let team = store.trusted_keys().await?;
    integrity.name_signers(team.iter().map(|k| (k.key.as_str(), k.name.as_str())));
    Ok(AuditView { entries, integrity })
}
