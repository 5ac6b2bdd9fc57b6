ALTER TABLE clients DROP COLUMN extras;
