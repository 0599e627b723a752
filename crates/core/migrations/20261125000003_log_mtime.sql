-- A file whose inode, size and modification time are unchanged since it was read is skipped
-- without hashing its head (git's index makes the same stat check).
ALTER TABLE log_files ADD COLUMN mtime_ns BIGINT NOT NULL DEFAULT 0;
