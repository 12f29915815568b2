-- Keys that sign voucher codes. The id (1..255) is printed inside every code, so ids are never
-- reused; a retired key no longer verifies its codes. `secret` is `plain:<hex>` or, with
-- VOUCHSAFE_MASTER_KEY, `aes256gcm:<nonce hex>:<ciphertext hex>`.
CREATE TABLE signing_keys (
    id         INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 255),
    secret     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP NULL
);
