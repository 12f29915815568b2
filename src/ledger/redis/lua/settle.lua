-- The database has these redemptions: drop their pending entries, unless the campaign is being
-- reloaded. A reload keeps what pending entries hold; an entry cleared between its snapshot of
-- the database and its write would be lost to Redis. Left alone, the sweeper settles it later.
-- KEYS: 1 pend, 2 lock   ARGV: redemption ids
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('HDEL', KEYS[1], unpack(ARGV))
