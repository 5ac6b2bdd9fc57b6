-- When a remembered decision stops counting (a consent app's remember_for); NULL: never.
ALTER TABLE grants ADD COLUMN remembered_until BIGINT;
