ALTER TABLE tokens DROP COLUMN sign_in;
ALTER TABLE auth_codes DROP COLUMN sign_in;
ALTER TABLE auth_flows DROP COLUMN sign_in;
ALTER TABLE sessions DROP COLUMN sign_in;
