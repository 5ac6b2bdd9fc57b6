-- Signing keys move next -> current -> retired. A key is published in the JWKS from the
-- moment it is created until every token it signed has expired.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL,      -- RS256, ES256 or EdDSA
    private_key  TEXT NOT NULL,      -- PKCS#1 PEM (RSA) or hex of the secret scalar/seed
    state        TEXT NOT NULL,      -- next, current or retired
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at   BIGINT
);

-- What a user let a client have: one row per (user, client).
CREATE TABLE grants (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    remember    BOOLEAN NOT NULL,    -- skip the consent page next time
    created_at  BIGINT NOT NULL,
    auth_time   BIGINT NOT NULL,     -- last sign-in that used the grant
    access_time BIGINT NOT NULL,     -- last token issued or refreshed under it
    UNIQUE (user_id, client_id)
);
CREATE INDEX grants_client ON grants (client_id);

-- An authorization request waiting for sign-in or consent.
CREATE TABLE auth_flows (
    id              TEXT PRIMARY KEY NOT NULL,
    session_binding TEXT NOT NULL,   -- SHA-256 of the browser session id that started it
    client_id       TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    request         TEXT NOT NULL,   -- the validated request, JSON
    user_id         TEXT REFERENCES users (id) ON DELETE CASCADE,
    auth_time       BIGINT,          -- set when the user signed in for this flow
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX auth_flows_expires ON auth_flows (expires_at);

-- Authorization codes, by SHA-256. used_at makes them single-use.
CREATE TABLE auth_codes (
    hash           BYTEA PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grant_id       TEXT NOT NULL,
    family_id      TEXT NOT NULL,    -- every token issued for the code carries it
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,             -- S256 challenge
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

-- Refresh rotation: when a refresh token is redeemed, rotated_at is set and the response
-- is kept encrypted under a key derived from the redeemed token, so that a parallel
-- retry within the grace window gets the same successor.
ALTER TABLE tokens ADD COLUMN rotated_at BIGINT;
ALTER TABLE tokens ADD COLUMN successor TEXT;
ALTER TABLE tokens ADD COLUMN auth_time BIGINT;

ALTER TABLE users ADD COLUMN phone_number TEXT;
ALTER TABLE users ADD COLUMN address TEXT;
