-- Tokens issued to machines have no user, grant or family. Indexing only the rows that
-- have one keeps three index insertions off every client_credentials token, and the
-- lookups by user, grant and family (equality, so never NULL) still use the indexes.
DROP INDEX tokens_user;
DROP INDEX tokens_grant;
DROP INDEX tokens_family;
CREATE INDEX tokens_user ON tokens (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX tokens_grant ON tokens (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX tokens_family ON tokens (family_id) WHERE family_id IS NOT NULL;
-- By client, then issue time: new tokens land at the end of their client's range
-- instead of at a random place (the hash), so a burst of issuance dirties few pages.
DROP INDEX tokens_client;
CREATE INDEX tokens_client ON tokens (client_id, issued_at);
-- Clean-up removes revoked tokens too; few are, so this index stays small.
CREATE INDEX tokens_revoked ON tokens (revoked_at) WHERE revoked_at IS NOT NULL;
