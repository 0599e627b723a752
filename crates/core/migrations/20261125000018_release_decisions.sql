-- A release's candidate commit, the GitHub Actions run waiting for approval (environment
-- protection), and the decision: when and why.
ALTER TABLE releases ADD COLUMN sha TEXT;
ALTER TABLE releases ADD COLUMN run_id BIGINT;
ALTER TABLE releases ADD COLUMN decided_at BIGINT;
ALTER TABLE releases ADD COLUMN reason TEXT;
