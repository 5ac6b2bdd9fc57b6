-- How the person signed in (JSON: acr, amr), beside every auth_time it belongs to, so
-- that ID tokens state it after a login app, on refresh too. NULL: a password.
ALTER TABLE sessions ADD COLUMN sign_in TEXT;
ALTER TABLE auth_flows ADD COLUMN sign_in TEXT;
ALTER TABLE auth_codes ADD COLUMN sign_in TEXT;
ALTER TABLE tokens ADD COLUMN sign_in TEXT;
