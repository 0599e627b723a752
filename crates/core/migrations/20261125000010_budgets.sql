-- Monthly budgets: for the whole team, or one repo, agent or vendor.
CREATE TABLE budgets (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    target TEXT NOT NULL,
    monthly_usd DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX budgets_by_scope ON budgets (scope, target);

-- Each threshold (50, 80, 100 %) of a budget fires once a month: the row is the proof, so a
-- restart or a second machine on the same database does not fire it again.
CREATE TABLE budget_alerts (
    budget_id TEXT NOT NULL,
    month TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    spent_usd DOUBLE PRECISION NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (budget_id, month, threshold)
);
