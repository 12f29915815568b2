-- A random id made once, at this migration: Redis state is kept under it, so a Redis shared
-- with (or left over from) another database never answers for this one.
CREATE TABLE deployment (
    id         TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL DEFAULT now()
);
INSERT INTO deployment (id) VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 16));
