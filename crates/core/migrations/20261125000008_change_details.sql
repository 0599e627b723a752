-- What a change request carries beyond its branch: GitHub labels, who is asked to review (both
-- JSON arrays of names), and whether it merges cleanly (clean, conflicts, blocked, behind,
-- unstable, draft; NULL while the forge is still computing it).
ALTER TABLE change_requests ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE change_requests ADD COLUMN requested_reviewers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE change_requests ADD COLUMN mergeable TEXT;
-- Local branches only: the head the lead merged or closed the change at. A rescan keeps the
-- lead's state while the branch stays at that head; new commits on the branch reopen it.
ALTER TABLE change_requests ADD COLUMN settled_sha TEXT;
