-- PostgreSQL drops the foreign key from vouchers to campaigns here (see its migration: a row-by-row
-- check that costs a fifth of generation). SQLite keeps it: dropping a key means rebuilding the
-- table, and SQLite checks it cheaply in-process. Kept so both backends have the same versions.
SELECT 1;
