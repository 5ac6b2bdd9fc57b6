DROP INDEX grants_user;
DROP INDEX auth_flows_consent_challenge;
ALTER TABLE auth_flows DROP COLUMN consent_answer;
ALTER TABLE auth_flows DROP COLUMN consent_verifier;
ALTER TABLE auth_flows DROP COLUMN consent_challenge;
