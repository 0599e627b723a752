-- An experiment's decision (ship, stop or iterate), taken once: who, when, which variation
-- ships, and why. The signed audit log has the same; this is what views read.
ALTER TABLE experiments ADD COLUMN decision TEXT;
ALTER TABLE experiments ADD COLUMN decided_variation TEXT;
ALTER TABLE experiments ADD COLUMN decided_by TEXT;
ALTER TABLE experiments ADD COLUMN decided_at BIGINT;
ALTER TABLE experiments ADD COLUMN decision_reason TEXT;
