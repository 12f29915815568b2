-- The database has the redemption: drop its pending entry.
-- KEYS: 5 pend   ARGV: 1 redemption id
redis.call('HDEL', KEYS[5], ARGV[1])
return 1
