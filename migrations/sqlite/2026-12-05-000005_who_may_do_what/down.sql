DROP TABLE sessions;
DROP INDEX auth_flows_address;
ALTER TABLE auth_flows DROP COLUMN address;
ALTER TABLE auth_codes DROP COLUMN redirect_uri_given;
ALTER TABLE tokens DROP COLUMN successor_hash;
ALTER TABLE grants DROP COLUMN remembered_scope;
