-- Where a synced experiment comes from (GrowthBook today): its id there, the API it was read
-- from, its variations' ids there (control first, as `experiment_variants.position`), and what
-- the last sync read (the results snapshot and the experiment's dateUpdated), so a sync skips
-- what has not changed and a decision can be sent back. File imports have no row here.
CREATE TABLE experiment_origins (
    experiment TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    api_url TEXT NOT NULL,
    variation_ids TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- The names an experiment goes by in code: its tracking key and its feature flags. Linking
-- looks for them in the diffs of change requests.
CREATE TABLE experiment_keys (
    experiment TEXT NOT NULL,
    key TEXT NOT NULL,
    -- tracking or flag
    kind TEXT NOT NULL,
    PRIMARY KEY (experiment, key)
);
