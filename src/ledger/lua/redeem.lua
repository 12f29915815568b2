-- Redeem one voucher atomically. All keys share the campaign's hash tag (single slot).
-- KEYS: 1 meta (hash), 2 red (serial -> redemption id), 3 void (set of serials),
--       4 idem (field -> "rid|hash"), 5 pend (rid -> pending entry) (6 lock, 7 gen: unused)
-- ARGV: 1 serial, 2 redemption id, 3 discount, 4 now (ms), 5 idempotency field ('' = none),
--       6 request hash, 7 order field, 8 pending entry
-- Every input and the campaign's state are checked before the first write, so the script
-- either does all of its writes or none (Redis does not roll a script back half-way).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOLOAD'} end

local function whole(x, max)
  local n = tonumber(x)
  return n ~= nil and n >= 0 and n <= max and n == math.floor(n)
end
if not (whole(ARGV[1], 4294967295) and whole(ARGV[3], 1e12) and whole(ARGV[4], 1e15))
    or ARGV[2] == '' or ARGV[7] == '' or ARGV[8] == '' then
  return {'BAD_INPUT'}
end

local function replay(field, check_hash)
  local prev = redis.call('HGET', KEYS[4], field)
  if not prev then return nil end
  local sep = string.find(prev, '|', 1, true)
  local rid = string.sub(prev, 1, sep - 1)
  if check_hash and string.sub(prev, sep + 1) ~= ARGV[6] then return {'IDEM_REUSED'} end
  return {'REPLAY', rid}
end

if ARGV[5] ~= '' then
  local r = replay(ARGV[5], true)
  if r then return r end
end
local r = replay(ARGV[7], false)
if r then return r end

local m = redis.call('HMGET', KEYS[1], 'status', 'starts', 'expires', 'max_amount', 'max_count', 'spent', 'count')
for i = 2, 7 do
  if tonumber(m[i]) == nil then return {'BAD_STATE'} end
end
local now = tonumber(ARGV[4])
if m[1] == 'paused' then return {'PAUSED'} end
if m[1] == 'ended' then return {'ENDED'} end
if now < tonumber(m[2]) then return {'NOT_STARTED'} end
if now >= tonumber(m[3]) then return {'EXPIRED'} end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return {'VOIDED'} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'ALREADY'} end
local discount = tonumber(ARGV[3])
local max_amount, max_count = tonumber(m[4]), tonumber(m[5])
if max_amount >= 0 and tonumber(m[6]) + discount > max_amount then return {'BUDGET'} end
if max_count >= 0 and tonumber(m[7]) + 1 > max_count then return {'BUDGET'} end

redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'spent', discount)
redis.call('HINCRBY', KEYS[1], 'count', 1)
local entry = ARGV[2] .. '|' .. ARGV[6]
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], ARGV[5], entry) end
redis.call('HSET', KEYS[4], ARGV[7], entry)
redis.call('HSET', KEYS[5], ARGV[2], ARGV[8])
return {'OK'}
