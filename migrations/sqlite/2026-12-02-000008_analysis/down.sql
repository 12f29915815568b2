ALTER TABLE campaigns DROP COLUMN analysis;
