-- What a user asked to be remembered, apart from everything she ever granted: only a
-- decision made with "Remember this decision" lets a later request skip the consent
-- page. Grants remembered before this change remembered their whole scope.
ALTER TABLE grants ADD COLUMN remembered_scope TEXT NOT NULL DEFAULT '';
UPDATE grants SET remembered_scope = scope WHERE remember;

-- A rotated refresh token points at its successor, so that a replay can tell whether
-- the successor has been used (then the family is revoked, grace window or not).
ALTER TABLE tokens ADD COLUMN successor_hash BYTEA;

-- RFC 6749 §4.1.3: redirect_uri is required at the token endpoint when the
-- authorization request carried one.
ALTER TABLE auth_codes ADD COLUMN redirect_uri_given BOOLEAN NOT NULL DEFAULT FALSE;

-- Pending sign-in requests are capped per address.
ALTER TABLE auth_flows ADD COLUMN address TEXT NOT NULL DEFAULT '';
CREATE INDEX auth_flows_address ON auth_flows (address) WHERE user_id IS NULL;

-- Browser sessions live here; the cookie carries only a random secret, stored as its
-- SHA-256, so signing out ends every copy of the cookie.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,   -- a public handle, for the sessions list
    secret_hash  BYTEA NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    user_agent   TEXT NOT NULL,
    address      TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
