-- The paths a GitHub pull request touches (from its files list), so the merge policy's
-- protected paths apply to pull requests as to local branches. Replaced on each change of head.
CREATE TABLE change_files (
    change_request TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (change_request, path)
);
