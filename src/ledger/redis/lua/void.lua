-- Vouchers voided in the database (consent revoked, erasure): refuse them if loaded.
-- KEYS: 1 meta, 3 void, 7 gen   ARGV: serials
-- A reload under way may have read the database before this change: it must not install.
redis.call('INCR', KEYS[7])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
return #ARGV
