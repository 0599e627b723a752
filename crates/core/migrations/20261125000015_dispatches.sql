-- Agent dispatches: a work item handed to a configured agent, run as a process in a git
-- worktree on its own branch. `pid` is the process group leader while it runs (on `host`),
-- so any process on that machine can cancel it; `output_tail` keeps its last lines (the whole
-- output is a file in the data dir).
CREATE TABLE dispatches (
    id TEXT PRIMARY KEY,
    work_item TEXT NOT NULL,
    agent TEXT NOT NULL,
    repo TEXT NOT NULL,
    branch TEXT NOT NULL,
    worktree TEXT NOT NULL,
    -- start (a new branch from the base) or send_back (review comments, same branch)
    kind TEXT NOT NULL,
    prompt TEXT NOT NULL,
    -- queued, running, succeeded, failed, cancelled
    state TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT,
    exit_code BIGINT,
    error TEXT,
    output_tail TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    ended_at BIGINT
);
CREATE INDEX dispatches_by_agent_state ON dispatches (agent, state);
CREATE INDEX dispatches_by_work_item ON dispatches (work_item);
