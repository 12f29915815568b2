-- A campaign's rules changed (PATCH): apply them if the campaign is loaded.
-- KEYS: 1 meta   ARGV: status, starts, expires, max_amount, max_count
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'starts', ARGV[2], 'expires', ARGV[3],
  'max_amount', ARGV[4], 'max_count', ARGV[5])
return 1
