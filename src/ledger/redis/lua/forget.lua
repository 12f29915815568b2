-- Drop a campaign's cached state so the next redemption reloads it from the database.
-- KEYS: 1 meta, 7 gen
redis.call('INCR', KEYS[7])
return redis.call('DEL', KEYS[1])
