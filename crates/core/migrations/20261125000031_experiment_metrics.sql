-- Experiments with statistics: each experiment's metrics and, per metric and variation, the
-- sufficient statistics its tests need (counts, sums, sums of squares and products), so ten
-- million per-unit rows are a few numbers here. `experiments.metric` stays the primary metric
-- and `experiment_variants` the units per variation (with conversions of the primary metric
-- when it is binomial), which older views read.

-- The configured share of traffic (NULL: an equal split) and the order, control first.
ALTER TABLE experiment_variants ADD COLUMN weight DOUBLE PRECISION;
ALTER TABLE experiment_variants ADD COLUMN position BIGINT NOT NULL DEFAULT 0;

CREATE TABLE experiment_metrics (
    experiment TEXT NOT NULL,
    metric TEXT NOT NULL,
    -- binomial, mean or ratio
    kind TEXT NOT NULL,
    -- A guardrail: must not get significantly worse.
    guardrail BIGINT NOT NULL DEFAULT 0,
    -- Lower is better (load time, errors).
    inverse BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, metric)
);

CREATE TABLE experiment_sums (
    experiment TEXT NOT NULL,
    metric TEXT NOT NULL,
    variation TEXT NOT NULL,
    n DOUBLE PRECISION NOT NULL,
    -- The metric (a ratio's numerator).
    sum DOUBLE PRECISION NOT NULL,
    sum_squares DOUBLE PRECISION NOT NULL,
    -- A ratio's denominator, and the sum of numerator × denominator.
    d_sum DOUBLE PRECISION,
    d_sum_squares DOUBLE PRECISION,
    d_products DOUBLE PRECISION,
    -- The pre-period covariate (CUPED), and the sum of metric × covariate.
    pre_sum DOUBLE PRECISION,
    pre_sum_squares DOUBLE PRECISION,
    pre_products DOUBLE PRECISION,
    PRIMARY KEY (experiment, metric, variation)
);
