DROP INDEX tokens_revoked;
DROP INDEX tokens_client;
CREATE INDEX tokens_client ON tokens (client_id);
DROP INDEX tokens_user;
DROP INDEX tokens_grant;
DROP INDEX tokens_family;
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_grant ON tokens (grant_id);
CREATE INDEX tokens_family ON tokens (family_id);
