-- Who launched the work: each machine records its user (FLIGHTDECK_USER, else git's
-- user.name) on the usage it reads, and the rollup keeps it as a dimension. Usage read before
-- this has no person ('').
ALTER TABLE usage_entries ADD COLUMN person TEXT NOT NULL DEFAULT '';

CREATE TABLE spend_records_by_person (
    vendor TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    agent TEXT NOT NULL,
    repo TEXT NOT NULL,
    person TEXT NOT NULL DEFAULT '',
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    unpriced_tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (vendor, model, day, source, agent, repo, person)
);
INSERT INTO spend_records_by_person (vendor, model, day, source, agent, repo, person,
    input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, reasoning_tokens,
    cost_usd, unpriced_tokens)
SELECT vendor, model, day, source, agent, repo, '', input_tokens, output_tokens,
    cache_write_tokens, cache_read_tokens, reasoning_tokens, cost_usd, unpriced_tokens
FROM spend_records;
DROP TABLE spend_records;
ALTER TABLE spend_records_by_person RENAME TO spend_records;
CREATE INDEX spend_records_by_day ON spend_records (day);
