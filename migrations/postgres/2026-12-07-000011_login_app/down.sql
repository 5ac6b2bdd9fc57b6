DROP INDEX auth_flows_login_challenge;
ALTER TABLE auth_flows DROP COLUMN login_state;
ALTER TABLE auth_flows DROP COLUMN login_verifier;
ALTER TABLE auth_flows DROP COLUMN login_challenge;
