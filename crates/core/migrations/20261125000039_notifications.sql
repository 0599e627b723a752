-- Notifications sent to the configured channels (`notify`). A row per channel and subject (an
-- inbox item: its id and, where fixed, the moment it became news) is the claim that makes each
-- go out once: across restarts, and across instances sharing the database (the first INSERT
-- wins; a claim is taken again only when its lease ran out, its retry is due, or its item left
-- the inbox and came back).
CREATE TABLE notifications (
    channel TEXT NOT NULL,
    subject TEXT NOT NULL,
    version BIGINT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    repo TEXT NOT NULL,
    -- skipped (in the inbox when the channel began: not news), held (past the hourly limit,
    -- for the next digest), sending (claimed), sent, failed (tried again from next_try),
    -- gave_up, dropped (held, but it left the inbox before the digest)
    status TEXT NOT NULL,
    -- open while its item is in the inbox, resolved after
    state TEXT NOT NULL,
    -- single, digest (a line of one) or test
    via TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    -- an item that left the inbox and came back is notified again, as the next round
    round BIGINT NOT NULL,
    -- the pass's time: the hourly limit counts by it
    claimed_at BIGINT NOT NULL,
    -- the wall clock in ms: the claim's lease, and its order against an inbox read
    claimed_ms BIGINT NOT NULL,
    resolved_ms BIGINT,
    -- only the claimant records the outcome
    claim_token TEXT NOT NULL,
    next_try BIGINT,
    sent_at BIGINT,
    -- what the channel called the message (an ntfy id, a Slack ts), for updates
    message_ref TEXT,
    last_error TEXT,
    PRIMARY KEY (channel, subject, version)
);
CREATE INDEX notifications_by_claim ON notifications (claimed_at);
-- A pass reads a channel's open rows; resolved ones pile up as history.
CREATE INDEX notifications_open ON notifications (channel, state);
