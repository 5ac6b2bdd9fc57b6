-- contacts, policy_uri, tos_uri, audience, allowed_cors_origins and metadata of a
-- registration, as one JSON object: stored and returned, not acted on.
ALTER TABLE clients ADD COLUMN extras TEXT NOT NULL DEFAULT '{}';
