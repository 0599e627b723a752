-- Audit entries are signed with the Ed25519 key of the lead who wrote them (see
-- crates/core/src/audit.rs): the signer's public key and the signature of the entry's hash, hex.
ALTER TABLE audit_entries ADD COLUMN signer TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_entries ADD COLUMN signature TEXT NOT NULL DEFAULT '';
