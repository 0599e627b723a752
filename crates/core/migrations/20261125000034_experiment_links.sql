-- Which change requests put an experiment's keys (tracking key, feature flags) in code: found
-- in the lines their diffs add, with the file it was found in.
CREATE TABLE experiment_links (
    experiment TEXT NOT NULL,
    change_request TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (experiment, change_request)
);
CREATE INDEX experiment_links_by_change ON experiment_links (change_request);
-- What each change's diff was last searched at: its head and the keys searched for, so a
-- change is read again only when either moved.
CREATE TABLE link_scans (
    change_request TEXT PRIMARY KEY,
    head_sha TEXT NOT NULL,
    keys TEXT NOT NULL
);
