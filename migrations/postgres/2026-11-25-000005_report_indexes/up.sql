CREATE INDEX vouchers_by_variant ON vouchers (campaign_id, variant, status);
