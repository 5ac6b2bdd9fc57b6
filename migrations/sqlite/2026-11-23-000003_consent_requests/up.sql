-- Delegated consent (an external consent app): a flow waiting for consent carries a
-- single-use challenge; the app's answer is stored until the browser comes back with the
-- verifier. Challenge and verifier are stored as SHA-256 hex.
ALTER TABLE auth_flows ADD COLUMN consent_challenge TEXT;
ALTER TABLE auth_flows ADD COLUMN consent_verifier TEXT;
ALTER TABLE auth_flows ADD COLUMN consent_answer TEXT;
CREATE UNIQUE INDEX auth_flows_consent_challenge ON auth_flows (consent_challenge);

-- Grants are listed by user on the connections page.
CREATE INDEX grants_user ON grants (user_id);
