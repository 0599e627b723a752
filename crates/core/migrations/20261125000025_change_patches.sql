-- A pull request's diff as GitHub gave it at the last sync (every file with its hunks, as JSON),
-- so its review page reads offline and the lead sees which head the patches are of.
CREATE TABLE change_patches (
    change_request TEXT PRIMARY KEY,
    head_sha TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    files TEXT NOT NULL
);
