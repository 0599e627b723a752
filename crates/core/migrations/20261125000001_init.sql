-- One schema for SQLite and PostgreSQL: only types both understand (TEXT, BIGINT,
-- DOUBLE PRECISION), natural keys instead of auto-increment ids, and timestamps as Unix seconds.
-- Every table has the natural key its source gives, so re-running an ingest upserts in place.

CREATE TABLE repos (
    path TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    default_branch TEXT NOT NULL,
    remote_url TEXT,
    last_scanned_at BIGINT
);

CREATE TABLE branches (
    repo TEXT NOT NULL,
    name TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    agent TEXT,
    ahead BIGINT NOT NULL DEFAULT 0,
    behind BIGINT NOT NULL DEFAULT 0,
    worktree_path TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repo, name)
);

CREATE TABLE commits (
    repo TEXT NOT NULL,
    sha TEXT NOT NULL,
    author_name TEXT NOT NULL,
    author_email TEXT NOT NULL,
    authored_at BIGINT NOT NULL,
    committed_at BIGINT NOT NULL,
    summary TEXT NOT NULL,
    agent TEXT,
    files_changed BIGINT NOT NULL DEFAULT 0,
    insertions BIGINT NOT NULL DEFAULT 0,
    deletions BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (repo, sha)
);
CREATE INDEX commits_by_time ON commits (committed_at);

CREATE TABLE agent_runs (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    session_id TEXT NOT NULL,
    model TEXT NOT NULL,
    cwd TEXT NOT NULL,
    repo TEXT,
    branch TEXT,
    title TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    turns BIGINT NOT NULL DEFAULT 0,
    tool_calls BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    source_path TEXT NOT NULL,
    skipped_lines BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX agent_runs_by_branch ON agent_runs (repo, branch);

CREATE TABLE change_requests (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    repo TEXT NOT NULL,
    title TEXT NOT NULL,
    head TEXT NOT NULL,
    base TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    author_kind TEXT NOT NULL,
    author TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    commits BIGINT NOT NULL DEFAULT 0,
    files_changed BIGINT NOT NULL DEFAULT 0,
    insertions BIGINT NOT NULL DEFAULT 0,
    deletions BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE checks (
    change_request TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    conclusion TEXT,
    url TEXT,
    PRIMARY KEY (change_request, name)
);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    environment TEXT NOT NULL,
    sha TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    source TEXT NOT NULL
);

CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    environment TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    approved_by TEXT
);

CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    metric TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at BIGINT NOT NULL
);

CREATE TABLE experiment_variants (
    experiment TEXT NOT NULL,
    name TEXT NOT NULL,
    units BIGINT NOT NULL,
    conversions BIGINT NOT NULL,
    PRIMARY KEY (experiment, name)
);

CREATE TABLE spend_records (
    vendor TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    agent TEXT NOT NULL,
    repo TEXT NOT NULL,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (vendor, model, day, source, agent, repo)
);

CREATE TABLE work_items (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    repo TEXT,
    assignee TEXT,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE actions (
    idempotency_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    applied_at BIGINT
);

CREATE TABLE audit_entries (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- Where each incremental source stopped: byte offsets of log files, ETags, last-seen ids.
CREATE TABLE ingest_cursors (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    position TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source, key)
);
