-- A campaign's rules changed (PATCH): apply them if the campaign is loaded.
-- KEYS: 1 meta, 7 gen   ARGV: status, starts, expires, max_amount, max_count
-- A reload under way may have read the database before this change: it must not install.
redis.call('INCR', KEYS[7])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'starts', ARGV[2], 'expires', ARGV[3],
  'max_amount', ARGV[4], 'max_count', ARGV[5])
return 1
