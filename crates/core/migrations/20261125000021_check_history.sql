-- Whether a check has ever failed (failure or timed out) on the change, kept when a later run
-- or push passes it: a release's "failed checks later fixed" risk signal.
ALTER TABLE checks ADD COLUMN ever_failed BIGINT NOT NULL DEFAULT 0;
UPDATE checks SET ever_failed = 1 WHERE conclusion IN ('failure', 'timed_out');
