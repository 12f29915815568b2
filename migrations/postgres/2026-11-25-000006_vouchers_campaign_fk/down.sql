ALTER TABLE vouchers ADD CONSTRAINT vouchers_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns (id);
