-- Undo a redemption in Redis exactly once (a rollback, or a redemption the database refused).
-- KEYS: 1 meta, 2 red, 3 void, 4 idem, 5 pend, 6 lock, 7 gen
-- ARGV: 1 serial, 2 redemption id, 3 discount, 4 idempotency field ('' = none), 5 order field,
--       6 '1' when the voucher stays voided (voided meanwhile, or its campaign ended)
-- A reload under way may have read the database before this change: it must not install.
redis.call('INCR', KEYS[7])
redis.call('HDEL', KEYS[5], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[6] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'spent', -tonumber(ARGV[3]))
redis.call('HINCRBY', KEYS[1], 'count', -1)
if ARGV[4] ~= '' then redis.call('HDEL', KEYS[4], ARGV[4]) end
redis.call('HDEL', KEYS[4], ARGV[5])
return 1
