-- A commit or change whose diffstat could not be computed (its objects are not in a partial or
-- shallow clone, or were lost; a forge listing without it) is stored with 0 and
-- diffstat_known = 0: unknown, read back as NULL, never guessed.
ALTER TABLE commits ADD COLUMN diffstat_known BIGINT NOT NULL DEFAULT 1;
ALTER TABLE change_requests ADD COLUMN diffstat_known BIGINT NOT NULL DEFAULT 1;
