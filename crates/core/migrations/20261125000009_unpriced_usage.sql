-- Usage of a model without a price on its day is unpriced: kept apart, never counted as free.
ALTER TABLE usage_entries ADD COLUMN priced BIGINT NOT NULL DEFAULT 1;
ALTER TABLE spend_records ADD COLUMN unpriced_tokens BIGINT NOT NULL DEFAULT 0;
