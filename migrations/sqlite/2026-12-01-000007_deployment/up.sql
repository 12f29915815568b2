-- A random id made once, at this migration: Redis state is kept under it, so a Redis shared
-- with (or left over from) another database never answers for this one.
CREATE TABLE deployment (
    id         TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO deployment (id) VALUES (lower(hex(randomblob(8))));
