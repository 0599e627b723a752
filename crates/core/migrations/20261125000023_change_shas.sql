-- A deploy's changes are found by the commits it shipped: its heads and merge commits by key.
CREATE INDEX change_requests_by_head ON change_requests (repo, head_sha);
CREATE INDEX change_requests_by_merge ON change_requests (repo, merge_sha);
