-- Incidents from the forge: issues labelled `incident` (opened and closed as the issue says).
-- DORA attributes each to the last successful production deploy of its repo before it opened.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    opened_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX incidents_by_repo ON incidents (repo, opened_at);
