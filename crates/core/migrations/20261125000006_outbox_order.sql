-- Actions are sent in the order they were queued (an approval before the merge it allows);
-- timestamps tie within a second, so each action gets the next number.
ALTER TABLE actions ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
