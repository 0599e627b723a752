-- What each deploy shipped, exactly: the commits reachable from its sha and not from the
-- previous successful deploy to the same environment, from the local commit graph.
-- `contents` is `exact` once computed, `unknown` while the sha is not in the local clone.
ALTER TABLE deployments ADD COLUMN contents TEXT NOT NULL DEFAULT 'unknown';
CREATE TABLE deploy_commits (
    deployment TEXT NOT NULL,
    repo TEXT NOT NULL,
    sha TEXT NOT NULL,
    PRIMARY KEY (deployment, sha)
);
CREATE INDEX deploy_commits_by_sha ON deploy_commits (repo, sha);
CREATE INDEX deployments_by_env ON deployments (repo, environment, created_at);
