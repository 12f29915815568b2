-- The end of a reload: install the snapshot it wrote to staging keys over the campaign's keys,
-- in one atomic step, but only while this reload still holds the campaign's lock (compare on
-- its token: a reload whose lock expired never overwrites a newer one) and nothing changed the
-- campaign in Redis since the snapshot began (`gen` moved: a rollback, void, rule change or
-- forget ran meanwhile, and the snapshot may predate it). Redemptions still pending in Redis
-- (taken by a script, not yet in the database snapshot) stay taken, so a reload never hands out
-- a voucher or budget that an answer in flight already holds. Releases the lock.
-- KEYS: 1 meta, 2 red, 3 void, 4 idem, 5 pend, 6 lock, 7 gen,
--       8 staged meta, 9 staged red, 10 staged void, 11 staged idem
-- ARGV: 1 lock token, 2 gen seen before the snapshot
-- Returns 'OK', 'LOST_LOCK' (nothing written) or 'CHANGED' (nothing written; lock released).
local function drop_staged()
  for i = 8, 11 do redis.call('DEL', KEYS[i]) end
end
if redis.call('GET', KEYS[6]) ~= ARGV[1] then
  drop_staged()
  return 'LOST_LOCK'
end
if (redis.call('GET', KEYS[7]) or '0') ~= ARGV[2] then
  drop_staged()
  redis.call('DEL', KEYS[6])
  return 'CHANGED'
end
for i = 1, 4 do
  if redis.call('EXISTS', KEYS[i + 7]) == 1 then
    redis.call('RENAME', KEYS[i + 7], KEYS[i])
    redis.call('PERSIST', KEYS[i])
  else
    redis.call('DEL', KEYS[i])
  end
end
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
    end
  end
end
redis.call('DEL', KEYS[6])
return 'OK'
