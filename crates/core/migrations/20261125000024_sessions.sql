-- Signing in from a browser: one-time login codes (printed by `serve`, made by `flightdeck
-- login`) and the sessions they open. Only the SHA-256 of each secret is kept: a copy of the
-- database opens nothing.
CREATE TABLE login_codes (
    hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE TABLE sessions (
    -- A short public name: shown in lists, used to revoke; never a credential.
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    -- What opened it (the browser's User-Agent, shortened), so a list says which is which.
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
