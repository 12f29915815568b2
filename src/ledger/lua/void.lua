-- Vouchers voided in the database (consent revoked, erasure): refuse them if loaded.
-- KEYS: 1 meta, 3 void   ARGV: serials
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
return #ARGV
