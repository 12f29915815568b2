-- Redeem one voucher atomically. All keys share the campaign's hash tag (single slot).
-- KEYS: 1 meta (hash), 2 red (serial -> redemption id), 3 void (set of serials),
--       4 idem (field -> "rid|hash"), 5 pend (rid -> pending entry) (6 lock, 7 gen: unused)
-- ARGV: 1 serial, 2 redemption id, 3 discount, 4 now (ms), 5 idempotency field ('' = none),
--       6 request hash, 7 order field, 8 pending entry, 9 order amount, 10 order currency,
--       11 variant
-- Every input and the campaign's state are checked before the first write, so the script
-- either does all of its writes or none (Redis does not roll a script back half-way).
-- The campaign rules are `domain::campaign::Rules` restated, in the same order: status, dates,
-- currency, minimum order, discount; then the voucher (voided, taken) and the budget.
-- `tests/ledger_conformance.rs` holds this script and the Rust rules to one table of cases.
-- Replies: {'OK'} taken; {'REPLAY', rid}; {'NOLOAD'} reload first; refusals {'PAUSED'},
-- {'ENDED'}, {'NOT_STARTED'}, {'EXPIRED'}, {'CURRENCY', campaign currency},
-- {'MINIMUM', min order, currency}, {'VOIDED'}, {'ALREADY'}, {'BUDGET'}, {'IDEM_REUSED'};
-- caller bugs {'DISCOUNT', the rules' discount}, {'BAD_INPUT'}; {'BAD_STATE'}. Parsed in one
-- place: `parse_reply` in `ledger/redis.rs`.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOLOAD'} end
-- Loaded by a version that kept no rules in meta: drop it (as forget.lua) and reload.
if redis.call('HGET', KEYS[1], 'rules') ~= '1' then
  redis.call('INCR', KEYS[7])
  redis.call('DEL', KEYS[1])
  return {'NOLOAD'}
end

local function whole(x, max)
  local n = tonumber(x)
  return n ~= nil and n >= 0 and n <= max and n == math.floor(n)
end
if not (whole(ARGV[1], 4294967295) and whole(ARGV[3], 1e12) and whole(ARGV[4], 1e15)
        and whole(ARGV[9], 1e12) and whole(ARGV[11], 4294967295))
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

local m = redis.call('HMGET', KEYS[1], 'status', 'starts', 'expires', 'max_amount', 'max_count', 'spent', 'count',
  'min_order', 'currency', 'd:' .. ARGV[11], 'd')
for i = 2, 8 do
  if tonumber(m[i]) == nil then return {'BAD_STATE'} end
end
local now = tonumber(ARGV[4])
if m[1] == 'paused' then return {'PAUSED'} end
if m[1] == 'ended' then return {'ENDED'} end
if m[1] ~= 'active' then return {'BAD_STATE'} end
if now < tonumber(m[2]) then return {'NOT_STARTED'} end
if now >= tonumber(m[3]) then return {'EXPIRED'} end
if ARGV[10] ~= m[9] then return {'CURRENCY', m[9]} end
local amount = tonumber(ARGV[9])
if amount < tonumber(m[8]) then return {'MINIMUM', m[8], m[9]} end

-- The variant's discount (its own, else the campaign's): `Discount::apply`. Integers stay
-- below 2^53, so every step is exact; fmod, not `%` (which divides in floating point).
local rule = m[10] or m[11] or ''
local kind, x, cap = string.match(rule, '^(%a+):(%d+):?(-?%d*)$')
local due
if kind == 'percent' then
  local p = amount * math.min(tonumber(x), 100)
  due = (p - math.fmod(p, 100)) / 100
  local c = tonumber(cap)
  if c and c >= 0 and due > c then due = c end
elseif kind == 'amount' then
  due = tonumber(x)
else
  return {'BAD_STATE'}
end
if due > amount then due = amount end
local discount = tonumber(ARGV[3])
if discount ~= due then return {'DISCOUNT', string.format('%d', due)} end

if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return {'VOIDED'} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'ALREADY'} end
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
