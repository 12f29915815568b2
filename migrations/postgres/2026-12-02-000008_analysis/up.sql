-- How a campaign's A/B results are analysed (JSON: method, alpha, gross_margin,
-- min_detectable_lift, tuning); NULL reads as the defaults.
ALTER TABLE campaigns ADD COLUMN analysis TEXT;
