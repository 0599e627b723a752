-- Cumulative lift over time: each metric's sums per variation as of the end of a day (UTC),
-- over the units first exposed by then. Sources with exposure times (per-unit files,
-- GrowthBook's date dimension) give every day at once; sources of totals (a snapshot, an
-- aggregates file, a warehouse query) give one day each time they are read, so the history
-- grows with each sync.
CREATE TABLE experiment_history (
    experiment TEXT NOT NULL,
    day TEXT NOT NULL,
    metric TEXT NOT NULL,
    variation TEXT NOT NULL,
    n DOUBLE PRECISION NOT NULL,
    sum DOUBLE PRECISION NOT NULL,
    sum_squares DOUBLE PRECISION NOT NULL,
    d_sum DOUBLE PRECISION,
    d_sum_squares DOUBLE PRECISION,
    d_products DOUBLE PRECISION,
    pre_sum DOUBLE PRECISION,
    pre_sum_squares DOUBLE PRECISION,
    pre_products DOUBLE PRECISION,
    PRIMARY KEY (experiment, day, metric, variation)
);
