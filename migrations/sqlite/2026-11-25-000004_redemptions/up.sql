-- The database is the source of truth for redemptions. At most one live (not rolled back)
-- redemption per voucher, enforced by a partial unique index; budgets are enforced by the
-- conditional update of campaigns.spent / campaigns.redeemed in the same transaction.
CREATE TABLE redemptions (
    id              TEXT PRIMARY KEY,
    campaign_id     INTEGER NOT NULL REFERENCES campaigns (id),
    serial          BIGINT NOT NULL,
    customer_id     TEXT NULL,
    code            TEXT NULL,
    order_id        TEXT NOT NULL,
    order_amount    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    discount        BIGINT NOT NULL,
    variant         INTEGER NOT NULL,
    api_key_id      TEXT NOT NULL,
    idem_key        TEXT NULL,
    request_hash    TEXT NOT NULL,
    redeemed_at     TIMESTAMP NOT NULL,
    rolled_back_at  TIMESTAMP NULL,
    rollback_reason TEXT NULL
);
CREATE UNIQUE INDEX redemptions_one_live ON redemptions (campaign_id, serial) WHERE rolled_back_at IS NULL;
CREATE UNIQUE INDEX redemptions_idem ON redemptions (api_key_id, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX redemptions_by_order ON redemptions (campaign_id, serial, order_id);
CREATE INDEX redemptions_by_campaign ON redemptions (campaign_id, redeemed_at);
CREATE INDEX redemptions_by_customer ON redemptions (customer_id);

-- Rollbacks are rows too: the history is kept.
CREATE TABLE rollbacks (
    redemption_id  TEXT PRIMARY KEY REFERENCES redemptions (id),
    reason         TEXT NOT NULL,
    rolled_back_at TIMESTAMP NOT NULL
);
