-- Customers hold only what segments need (zero-party data): birthday as month*100+day (no year),
-- loyalty tier, and the current state of the personalized_offers consent (the history is in
-- consents; the flag is updated in the same transaction as each consent entry).
CREATE TABLE customers (
    id             TEXT PRIMARY KEY,
    birth_md       INTEGER NULL CHECK (birth_md BETWEEN 101 AND 1231),
    loyalty_tier   TEXT NULL,
    offers_consent BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

CREATE TABLE consents (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id    TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    purpose        TEXT NOT NULL,
    granted        BOOLEAN NOT NULL,
    source         TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    recorded_at    TIMESTAMP NOT NULL
);
CREATE INDEX consents_by_customer ON consents (customer_id, purpose, id);

CREATE TABLE carts (
    customer_id  TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    cart_id      TEXT NOT NULL,
    value        BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    abandoned_at TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id, cart_id)
);

-- A campaign's number is printed inside its codes (20 bits).
CREATE TABLE campaigns (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT CHECK (id BETWEEN 1 AND 1048575),
    name               TEXT NOT NULL,
    currency           TEXT NOT NULL,
    segment            TEXT NOT NULL,
    discount           TEXT NOT NULL,
    min_order          BIGINT NOT NULL,
    budget_amount      BIGINT NULL,
    budget_redemptions BIGINT NULL,
    starts_at          TIMESTAMP NOT NULL,
    expires_at         TIMESTAMP NOT NULL,
    status             TEXT NOT NULL,
    prefix             TEXT NOT NULL,
    salt               TEXT NOT NULL,
    variants           TEXT NOT NULL,
    next_serial        BIGINT NOT NULL DEFAULT 0,
    spent              BIGINT NOT NULL DEFAULT 0,
    redeemed           BIGINT NOT NULL DEFAULT 0,
    revision           BIGINT NOT NULL DEFAULT 1,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);

-- One voucher per (campaign, customer); the serial is unique in its campaign, so codes are too.
-- Erasure sets customer_id and code to NULL and keeps the row, so totals stay exact.
CREATE TABLE vouchers (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    serial      BIGINT NOT NULL,
    customer_id TEXT NULL,
    variant     INTEGER NOT NULL,
    key_id      INTEGER NOT NULL,
    code        TEXT NULL,
    status      TEXT NOT NULL,
    issued_at   TIMESTAMP NOT NULL,
    voided_at   TIMESTAMP NULL,
    PRIMARY KEY (campaign_id, serial),
    UNIQUE (campaign_id, customer_id)
);
CREATE INDEX vouchers_by_customer ON vouchers (customer_id);

CREATE TABLE generation_jobs (
    id                 TEXT PRIMARY KEY,
    campaign_id        INTEGER NOT NULL REFERENCES campaigns (id),
    status             TEXT NOT NULL,
    total              BIGINT NOT NULL DEFAULT 0,
    processed          BIGINT NOT NULL DEFAULT 0,
    issued             BIGINT NOT NULL DEFAULT 0,
    skipped_no_consent BIGINT NOT NULL DEFAULT 0,
    skipped_existing   BIGINT NOT NULL DEFAULT 0,
    cursor             TEXT NULL,
    owner              TEXT NULL,
    error              TEXT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX generation_jobs_open ON generation_jobs (status);

-- First answers of writes made with an Idempotency-Key, per API key.
CREATE TABLE idempotency_keys (
    api_key_id   TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (api_key_id, idem_key)
);
