-- Notifications sent to the configured channels (`domain::notify`). A row per channel and
-- subject (an inbox item: its id and the moment it became news) is the claim that makes each
-- one go out once: across restarts, and across instances sharing the database (the first
-- INSERT wins).
CREATE TABLE notifications (
    channel TEXT NOT NULL,
    subject TEXT NOT NULL,
    version BIGINT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    repo TEXT NOT NULL,
    -- sending (claimed, its sender at work), sent, failed (retried from next_try), gave_up
    status TEXT NOT NULL,
    -- open while the item is in the inbox; resolved once it left (and the update was sent)
    state TEXT NOT NULL,
    -- single, or digest (sent as one line of an hourly digest)
    via TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    next_try BIGINT,
    sent_at BIGINT,
    -- what the channel called the message (an ntfy id, a Slack ts), for updates
    message_ref TEXT,
    last_error TEXT,
    PRIMARY KEY (channel, subject, version)
);
CREATE INDEX notifications_by_claim ON notifications (claimed_at);
