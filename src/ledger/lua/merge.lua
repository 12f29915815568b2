-- Part of a reload (runs inside its MULTI, after the snapshot is written): redemptions still
-- pending in Redis (taken by the script, not yet known to the database snapshot) stay taken,
-- so a reload never hands out a voucher or budget that an answer in flight already holds.
-- KEYS: 1 meta, 2 red, 4 idem, 5 pend (3 unused)
local taken = 0
for _, raw in ipairs(redis.call('HVALS', KEYS[5])) do
  local ok, p = pcall(cjson.decode, raw)
  local r = ok and type(p) == 'table' and p.redemption
  if type(r) == 'table' and tonumber(r.serial) and tonumber(r.discount) and r.id and r.order_id then
    local serial = string.format('%d', tonumber(r.serial))
    local id = tostring(r.id)
    if redis.call('HEXISTS', KEYS[2], serial) == 0 then
      redis.call('HSET', KEYS[2], serial, id)
      redis.call('HINCRBY', KEYS[1], 'spent', tonumber(r.discount))
      redis.call('HINCRBY', KEYS[1], 'count', 1)
      local hash = type(r.request_hash) == 'string' and r.request_hash or ''
      local entry = id .. '|' .. hash
      -- Without its request hash (an entry from before it was kept) a replay by key would read
      -- as reused; the database answers it instead.
      if type(r.idem_key) == 'string' and hash ~= '' then
        redis.call('HSET', KEYS[4], 'k:' .. tostring(r.api_key_id) .. ':' .. r.idem_key, entry)
      end
      redis.call('HSET', KEYS[4], 'o:' .. serial .. ':' .. tostring(r.order_id), entry)
      taken = taken + 1
    end
  end
end
return taken
