-- Failed sign-ins per account across every address and node, for the progressive
-- delay. The account is named by the SHA-256 of its lower-cased name, so that what
-- people type into the username box (a password, sometimes) is never kept; names that
-- belong to nobody are counted too, so the delay says nothing about who exists.
-- known_networks: hashes of the networks the right password came from, which the
-- delay spares.
CREATE TABLE account_guards (
    account_key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_failure_at BIGINT NOT NULL DEFAULT 0,
    known_networks TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);
CREATE INDEX account_guards_updated_at ON account_guards (updated_at);
