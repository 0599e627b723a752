-- Paired devices hold their own key. A pairing code is run through SPAKE2, so the server keeps
-- the scalar both sides derive from it (good for five minutes, single use: whoever reads it
-- then can pair, as with the code) under a public id the link names; the phone never sends the
-- code's secret half back, it proves it holds it.
CREATE TABLE pairing_codes (
    id TEXT PRIMARY KEY,
    verifier TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
-- A session opened by pairing belongs to a device key (hex of the P-256 public point); its
-- requests must be signed with it.
ALTER TABLE sessions ADD COLUMN device_key TEXT;
-- An entry a device signed: its public key and its signature of the entry's detail (the
-- statement it signed). An enrolment entry carries the key and no signature.
ALTER TABLE audit_entries ADD COLUMN device_key TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_entries ADD COLUMN device_signature TEXT NOT NULL DEFAULT '';
-- A resent device-signed decision is found by its signature (recorded once).
CREATE INDEX audit_entries_device_signature ON audit_entries (device_signature);
