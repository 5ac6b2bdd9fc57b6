ALTER TABLE users DROP COLUMN address;
ALTER TABLE users DROP COLUMN phone_number;
ALTER TABLE tokens DROP COLUMN auth_time;
ALTER TABLE tokens DROP COLUMN successor;
ALTER TABLE tokens DROP COLUMN rotated_at;
DROP TABLE auth_codes;
DROP TABLE auth_flows;
DROP TABLE grants;
DROP TABLE signing_keys;
