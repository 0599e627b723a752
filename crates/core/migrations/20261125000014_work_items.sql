-- Work items carry their task text, where they came from and when, and links to the runs,
-- branches and change requests that work on them. `assignee` is `person:NAME`, `agent:NAME`
-- or NULL (nobody yet).
ALTER TABLE work_items ADD COLUMN body TEXT NOT NULL DEFAULT '';
ALTER TABLE work_items ADD COLUMN source TEXT NOT NULL DEFAULT 'cockpit';
ALTER TABLE work_items ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE work_links (
    work_item TEXT NOT NULL,
    -- run, branch or change
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (work_item, kind, target)
);
CREATE INDEX work_links_by_target ON work_links (kind, target);
