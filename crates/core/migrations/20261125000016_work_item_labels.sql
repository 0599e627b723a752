-- A work item's labels (GitHub issue labels; `agent:NAME` marks work handed to an agent), as a
-- JSON array of strings.
ALTER TABLE work_items ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
