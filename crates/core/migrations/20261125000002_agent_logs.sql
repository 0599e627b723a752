-- Incremental agent-log ingest. Every usage line is stored where it was read (file, line); copies
-- of one billed record (same key: streaming snapshots, resumed or forked sessions, sidechain
-- replays) are all kept and exactly one of them is marked canonical, so forgetting a truncated
-- file lets another copy take over. Session facts are kept per (session, file), and each log
-- file's cursor,
-- so a file is read once, appended bytes only, and every batch commits records, facts and
-- cursor together: an ingest killed at any point resumes with identical totals.

CREATE TABLE log_files (
    path TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    -- identity: device:inode, and a hash of the first head_len bytes
    inode TEXT NOT NULL,
    head_len BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    -- bytes and lines consumed (complete lines only)
    byte_offset BIGINT NOT NULL,
    line_no BIGINT NOT NULL,
    skipped_lines BIGINT NOT NULL,
    -- parser state carried between reads (Codex: current model, previous totals, session)
    parser_state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE usage_entries (
    agent TEXT NOT NULL,
    entry_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sidechain BIGINT NOT NULL,
    session_id TEXT NOT NULL,
    file TEXT NOT NULL,
    line_no BIGINT NOT NULL,
    at BIGINT NOT NULL,
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cache_write_1h_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    logged_cost_usd DOUBLE PRECISION,
    -- 1 for the one copy of this record that counts
    canonical BIGINT NOT NULL,
    PRIMARY KEY (agent, file, line_no)
);
CREATE INDEX usage_entries_by_key ON usage_entries (agent, entry_key);
CREATE INDEX usage_entries_by_message ON usage_entries (agent, message_id);
CREATE INDEX usage_entries_by_session ON usage_entries (agent, session_id, canonical);

CREATE TABLE session_facts (
    agent TEXT NOT NULL,
    session_id TEXT NOT NULL,
    file TEXT NOT NULL,
    cwd TEXT,
    branch TEXT,
    title TEXT,
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL,
    turns BIGINT NOT NULL,
    tool_calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    -- what the log's newest event was: working, waiting (for the user) or error
    last_event TEXT NOT NULL,
    PRIMARY KEY (agent, session_id, file)
);

CREATE TABLE session_files (
    agent TEXT NOT NULL,
    session_id TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (agent, session_id, path)
);

ALTER TABLE agent_runs ADD COLUMN errors BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agent_runs ADD COLUMN files_touched BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agent_runs ADD COLUMN models TEXT NOT NULL DEFAULT '';

-- Repositories added with `flightdeck repo add` (config-file repos are not copied here).
CREATE TABLE watched_repos (
    path TEXT PRIMARY KEY,
    added_at BIGINT NOT NULL
);
