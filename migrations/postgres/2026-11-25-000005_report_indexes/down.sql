DROP INDEX vouchers_by_variant;
