-- What the vendors billed, from their cost reports (admin keys), per day and line item: kept
-- beside the log-derived spend (not added to it) so the two can be reconciled.
CREATE TABLE billed_costs (
    vendor TEXT NOT NULL,
    day TEXT NOT NULL,
    line_item TEXT NOT NULL,
    model TEXT NOT NULL,
    amount_usd DOUBLE PRECISION NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (vendor, day, line_item)
);
