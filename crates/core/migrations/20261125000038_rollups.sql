-- Rollups for the views that summed every row on each request (at team scale, seconds each):
-- commits per week for Velocity and its charts, and who ran which sessions per day for the
-- Team view. The store rebuilds the weeks and days a write touches, in the same transaction.

-- Week 0 is the week of 1970-01-05 (345600), the first Monday after the epoch; a week is
-- 604800 seconds. `lines` is insertions plus deletions.
CREATE TABLE commit_weeks (
    week BIGINT NOT NULL,
    by_agent BIGINT NOT NULL,
    commits BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    PRIMARY KEY (week, by_agent)
);
INSERT INTO commit_weeks (week, by_agent, commits, lines)
SELECT CAST((committed_at - 345600) / 604800 AS BIGINT),
    CAST(CASE WHEN agent IS NULL THEN 0 ELSE 1 END AS BIGINT),
    CAST(COUNT(*) AS BIGINT), CAST(SUM(insertions + deletions) AS BIGINT)
FROM commits WHERE committed_at >= 345600
GROUP BY 1, 2;

-- The sessions with counted usage on each day, by the person who launched them.
CREATE TABLE session_days (
    day TEXT NOT NULL,
    person TEXT NOT NULL,
    agent TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (day, person, agent, session_id)
);
INSERT INTO session_days (day, person, agent, session_id)
SELECT DISTINCT day, person, agent, session_id FROM usage_entries WHERE canonical = 1;
