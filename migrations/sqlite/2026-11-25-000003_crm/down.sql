DROP TABLE idempotency_keys;
DROP TABLE generation_jobs;
DROP TABLE vouchers;
DROP TABLE campaigns;
DROP TABLE carts;
DROP TABLE consents;
DROP TABLE customers;
