-- The rollup of one day is rebuilt from that day's usage records (an incremental ingest),
-- each joined to its run for the repo.
CREATE INDEX usage_entries_by_day ON usage_entries (day, canonical);
CREATE INDEX agent_runs_by_session ON agent_runs (agent, session_id);
