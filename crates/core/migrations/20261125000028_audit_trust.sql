-- The team's audit keys: whose public key is whose, kept in the shared store so every
-- member's `audit verify` names each signer and flags the keys nobody added.
CREATE TABLE audit_trust (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    added_by TEXT NOT NULL
);
