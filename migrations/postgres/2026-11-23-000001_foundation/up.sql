-- Timestamps are Unix seconds (BIGINT) so that both backends compare them the same way.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL, -- the stable OpenID Connect subject
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    name          TEXT,
    password_hash TEXT NOT NULL,             -- argon2id PHC string
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE clients (
    id                         TEXT PRIMARY KEY NOT NULL,
    secret_hash                TEXT,             -- argon2id PHC string; NULL for public clients
    name                       TEXT NOT NULL,
    description                TEXT NOT NULL DEFAULT '',
    client_uri                 TEXT,
    logo_uri                   TEXT,
    redirect_uris              TEXT NOT NULL,    -- JSON array of exact URIs
    post_logout_redirect_uris  TEXT NOT NULL,    -- JSON array of exact URIs
    grant_types                TEXT NOT NULL,    -- space separated
    response_types             TEXT NOT NULL,    -- space separated
    scope                      TEXT NOT NULL,    -- space separated
    token_endpoint_auth_method TEXT NOT NULL,
    client_type                TEXT NOT NULL,
    owner_id                   TEXT REFERENCES users (id) ON DELETE SET NULL,
    skip_consent               BOOLEAN NOT NULL DEFAULT FALSE,
    access_token_format        TEXT NOT NULL DEFAULT 'opaque',
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX clients_owner ON clients (owner_id);

CREATE TABLE client_logos (
    client_id    TEXT PRIMARY KEY NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Access and refresh tokens. Only the SHA-256 of a token is stored.
CREATE TABLE tokens (
    hash       BYTEA PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,                    -- 'access' or 'refresh'
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    grant_id   TEXT,                             -- the user's grant the token was issued under
    family_id  TEXT,                             -- refresh-token rotation family
    scope      TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX tokens_client ON tokens (client_id);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_grant ON tokens (grant_id);
CREATE INDEX tokens_family ON tokens (family_id);
CREATE INDEX tokens_expires ON tokens (expires_at);
