ALTER TABLE grants DROP COLUMN session_claims;
