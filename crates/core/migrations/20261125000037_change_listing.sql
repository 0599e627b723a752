-- The Changes view lists open change requests and the most recently updated closed ones; a
-- store of years holds 100,000s of merged ones, so both are found by index, not by a scan.
CREATE INDEX change_requests_by_state ON change_requests (state, updated_at);
-- The Agents view lists the runs still going and the newest others, and sums the rest.
CREATE INDEX agent_runs_by_start ON agent_runs (started_at);
CREATE INDEX agent_runs_by_state ON agent_runs (state);
-- Velocity reads the changes opened and the reviews given in a range.
CREATE INDEX change_requests_by_created ON change_requests (created_at);
CREATE INDEX reviews_by_time ON reviews (at);
-- Whether a run's branch was merged, asked for the runs of a window.
CREATE INDEX change_requests_by_branch ON change_requests (repo, head);
-- Velocity sums half a year of commits per week, agents and people apart: from the index
-- alone (a team's half year is 100,000s of commits; reading each row was most of the time).
DROP INDEX commits_by_time;
CREATE INDEX commits_by_time ON commits (committed_at, agent, insertions, deletions);
