-- The outbox (see crates/core/src/outbox.rs): when an action may next be tried, who asked for
-- it, what applying it produced, and until when a sender holds it (a sender that died lets go).
ALTER TABLE actions ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE actions ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE actions ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE actions ADD COLUMN result TEXT;

-- Reviews given to local change requests (GitHub keeps its own). One row per action, so
-- applying an action twice cannot add a second review.
CREATE TABLE reviews (
    action_key TEXT PRIMARY KEY,
    change_request TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX reviews_by_change ON reviews (change_request, at);
