-- Part of a reload (runs inside its MULTI, after the snapshot is written): redemptions still
-- pending in Redis (taken by the script, not yet known to the database snapshot) stay taken,
-- so a reload never hands out a voucher or budget that an answer in flight already holds.
-- KEYS: 1 meta, 2 red, 4 idem, 5 pend (3 unused)
local taken = 0
for _, raw in ipairs(redis.call('HVALS', KEYS[5])) do
  local ok, p = pcall(cjson.decode, raw)
  if ok and type(p) == 'table' and type(p.redemption) == 'table' then
    local r = p.redemption
    local serial = string.format('%d', r.serial)
    if redis.call('HEXISTS', KEYS[2], serial) == 0 then
      redis.call('HSET', KEYS[2], serial, r.id)
      redis.call('HINCRBY', KEYS[1], 'spent', r.discount)
      redis.call('HINCRBY', KEYS[1], 'count', 1)
      local entry = r.id .. '|' .. (type(r.request_hash) == 'string' and r.request_hash or '')
      if type(r.idem_key) == 'string' then
        redis.call('HSET', KEYS[4], 'k:' .. r.api_key_id .. ':' .. r.idem_key, entry)
      end
      redis.call('HSET', KEYS[4], 'o:' .. serial .. ':' .. r.order_id, entry)
      taken = taken + 1
    end
  end
end
return taken
