ALTER TABLE grants DROP COLUMN remembered_until;
