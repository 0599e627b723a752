-- The commit a merge put on the base: GitHub's `merge_commit_sha` of a merged pull request, or
-- the commit a merge made here left at the base's tip. A squash merge ships this commit, not
-- the change's head, so the cycle's deploy phase follows either.
ALTER TABLE change_requests ADD COLUMN merge_sha TEXT;
