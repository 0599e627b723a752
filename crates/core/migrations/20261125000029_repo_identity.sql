-- A repo is its identity (normalised origin URL, or root commit when it has no remote), not a
-- path: the same repository cloned on several machines sharing one database is one repo.
-- Each machine's checkouts are its clones. Rows keyed by a path before this migration are
-- rekeyed by the first ingest, which can read the clone (domain::repos::carry_over).
ALTER TABLE repos RENAME COLUMN path TO id;

CREATE TABLE repo_clones (
    machine TEXT NOT NULL,
    path TEXT NOT NULL,
    repo TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (machine, path)
);
CREATE INDEX repo_clones_by_repo ON repo_clones (repo, machine, seen_at);

-- Which clone (`machine:path`) last saw each local branch: a scan replaces only its own clone's
-- branches, so a laptop (or a second clone) without an agent branch does not delete another's.
ALTER TABLE branches ADD COLUMN seen_in TEXT NOT NULL DEFAULT '';
-- Rows from before were seen in the clone at their key's path, on a machine not recorded:
-- `?:PATH`, which that clone's next scan claims (`store::repos::replace_branches`).
UPDATE branches SET seen_in = '?:' || repo;

-- `flightdeck repo add` paths are one machine's: another machine on the same database must not
-- try to read them. Rows from before have no machine (''): each machine reads those of them
-- that exist on it.
CREATE TABLE watched_clones (
    machine TEXT NOT NULL,
    path TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (machine, path)
);
INSERT INTO watched_clones (machine, path, added_at) SELECT '', path, added_at FROM watched_repos;
DROP TABLE watched_repos;
