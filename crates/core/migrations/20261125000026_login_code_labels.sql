-- A pairing code names the device it is for ("Ana's phone"); the session it opens takes that
-- name instead of the browser's own.
ALTER TABLE login_codes ADD COLUMN label TEXT;
