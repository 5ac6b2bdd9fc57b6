-- Delegated sign-in (an external login app): a flow waiting for sign-in carries a
-- single-use login challenge; the app's answer is kept until the browser comes back with
-- the verifier. Challenge and verifier are stored as SHA-256 hex while they can be used.
-- login_state is JSON: what the login app is told (the browser's session user) and, once
-- answered, the answer, with the challenge it answered (spent by then) for the consent app.
ALTER TABLE auth_flows ADD COLUMN login_challenge TEXT;
ALTER TABLE auth_flows ADD COLUMN login_verifier TEXT;
ALTER TABLE auth_flows ADD COLUMN login_state TEXT;
CREATE UNIQUE INDEX auth_flows_login_challenge ON auth_flows (login_challenge);
