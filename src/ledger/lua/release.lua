-- Undo a redemption in Redis exactly once (a rollback, or a redemption the database refused).
-- KEYS: 1 meta, 2 red, 4 idem, 5 pend (3 unused, kept for a uniform key list)
-- ARGV: 1 serial, 2 redemption id, 3 discount, 4 idempotency field ('' = none), 5 order field
redis.call('HDEL', KEYS[5], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'spent', -tonumber(ARGV[3]))
redis.call('HINCRBY', KEYS[1], 'count', -1)
if ARGV[4] ~= '' then redis.call('HDEL', KEYS[4], ARGV[4]) end
redis.call('HDEL', KEYS[4], ARGV[5])
return 1
