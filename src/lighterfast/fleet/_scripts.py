"""The fleet's Lua scripts: every decision is one atomic EVALSHA on the server's clock.

Plain commands only (TIME, HMGET/HSET/HINCRBY, ZADD/ZRANGEBYSCORE), so any Redis-compatible
server since Redis 5 / Valkey 7 runs them. Times are server milliseconds (`redis.call('TIME')`),
so host clocks never matter. Every key of a fleet shares one `{namespace}` hash tag, so a
cluster puts them in one slot and the multi-key scripts stay legal there.

A budget window is two keys: `<base>:z` (a sorted set: reservation id → expiry ms) and
`<base>:w` (a hash: reservation id → weight, `_sum` → live total, `_cap` → the capacity the
last caller stated). A lease is a set of hash fields `<prefix>owner|holder|epoch|exp|since`
(+ `nonce` for an API-key lane); the fields of a released or expired lease stay, so its epoch
and last recorded nonce survive into the next owner's lease. `budget:boot` (a hash: `id`, the
server's budget generation, and `graced`) and `budget:grace` (set for the grace after a
restart) let a reservation notice that the windows were lost (`BOOT`, `RESEED`).
"""

from __future__ import annotations

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_WINDOW_FUNCS = """
local function hdel_many(w, z, ids)
  for i = 1, #ids, 500 do
    local part = {}
    for j = i, math.min(i + 499, #ids) do part[#part + 1] = ids[j] end
    redis.call('HDEL', w, unpack(part))
    redis.call('ZREM', z, unpack(part))
  end
end

local function trim(z, w, now)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #gone == 0 then
    return tonumber(redis.call('HGET', w, '_sum') or '0')
  end
  local total = 0
  for i = 1, #gone, 500 do
    local part = {}
    for j = i, math.min(i + 499, #gone) do part[#part + 1] = gone[j] end
    local ws = redis.call('HMGET', w, unpack(part))
    for j = 1, #ws do total = total + (tonumber(ws[j]) or 0) end
  end
  hdel_many(w, z, gone)
  local left = redis.call('HINCRBY', w, '_sum', -total)
  if left < 0 then
    redis.call('HSET', w, '_sum', 0)
    left = 0
  end
  return left
end

local function refund(z, w, id, amount)
  local cur = tonumber(redis.call('HGET', w, id) or '0')
  if cur <= 0 or amount <= 0 then return 0 end
  local back = math.min(cur, amount)
  if back == cur then
    redis.call('HDEL', w, id)
    redis.call('ZREM', z, id)
  else
    redis.call('HINCRBY', w, id, -back)
  end
  redis.call('HINCRBY', w, '_sum', -back)
  return back
end
"""

_BOOT_FUNC = """
-- The server's budget generation: a hash `id` (made on first use) and `graced` (the id a
-- grace was started for). A caller that knew another id lived through a restart that lost
-- every window: it is told so (stale) and the first such caller of a generation starts a
-- grace in which nothing is granted while every process puts back what it still holds.
local function boot_check(bk, gk, known, grace)
  local f = redis.call('HMGET', bk, 'id', 'graced')
  local boot = f[1]
  if not boot then
    boot = t[1] .. '.' .. t[2]
    redis.call('HSET', bk, 'id', boot)
  end
  local stale = 0
  if known ~= '' and known ~= boot then
    stale = 1
    if f[2] ~= boot then
      redis.call('HSET', bk, 'graced', boot)
      if grace > 0 then redis.call('SET', gk, boot, 'PX', grace) end
    end
  end
  return boot, stale
end
"""

BOOT = (
    _NOW
    + _BOOT_FUNC
    + """
-- KEYS: boot, grace; ARGV: known id ('' none), grace_ms -> {id, stale, grace ms left}
local boot, stale = boot_check(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
return {boot, stale, math.max(0, redis.call('PTTL', KEYS[2]))}
"""
)

RESERVE = (
    _NOW
    + _WINDOW_FUNCS
    + _BOOT_FUNC
    + """
-- KEYS: z1, w1, z2, w2, ... (every window the request must fit in), then boot, grace
-- ARGV: need, want, life_ms, id, refund_id, refund_amount, known boot id, grace_ms,
--       cap1, cap2, ...
-- -> {granted, wait_ms, now_ms, boot id, stale}: granted in need..want (room in EVERY
-- window), or 0 + wait; stale 1: nothing granted, put back what you hold, then ask again
local need = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local life = tonumber(ARGV[3])
local n = (#KEYS - 2) / 2
if ARGV[5] ~= '' then
  local amount = tonumber(ARGV[6])
  for i = 1, n do refund(KEYS[2 * i - 1], KEYS[2 * i], ARGV[5], amount) end
end
local boot, stale = boot_check(KEYS[#KEYS - 1], KEYS[#KEYS], ARGV[7], tonumber(ARGV[8]))
if stale == 1 then return {0, 1, now, boot, 1} end
local grace = redis.call('PTTL', KEYS[#KEYS])
if grace > 0 then return {0, grace, now, boot, 0} end
local grant = want
local rooms = {}
for i = 1, n do
  local used = trim(KEYS[2 * i - 1], KEYS[2 * i], now)
  local room = tonumber(ARGV[8 + i]) - used
  rooms[i] = room
  if room < grant then grant = room end
end
if grant >= need then
  for i = 1, n do
    local z, w = KEYS[2 * i - 1], KEYS[2 * i]
    redis.call('ZADD', z, now + life, ARGV[4])
    redis.call('HSET', w, ARGV[4], grant, '_cap', ARGV[8 + i])
    redis.call('HINCRBY', w, '_sum', grant)
    redis.call('PEXPIRE', z, life + 1000)
    redis.call('PEXPIRE', w, life + 1000)
  end
  return {grant, 0, now, boot, 0}
end
local wait = 0
for i = 1, n do
  if rooms[i] < need then
    local missing = need - rooms[i]
    local z, w = KEYS[2 * i - 1], KEYS[2 * i]
    local entries = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
    local at = now + life
    for j = 1, #entries, 2 do
      missing = missing - (tonumber(redis.call('HGET', w, entries[j])) or 0)
      if missing <= 0 then
        at = tonumber(entries[j + 1])
        break
      end
    end
    if at - now > wait then wait = at - now end
  end
end
return {0, math.max(wait, 1), now, boot, 0}
"""
)

RESEED = (
    _NOW
    + """
-- KEYS: z1, w1, ...; ARGV: id, weight, ms left, id, weight, ms left, ...
-- (after a restart: a process puts back the reservations it still holds; ids already
-- present are left alone) -> reservations put back (in the first window)
local back = 0
for i = 1, #KEYS / 2 do
  local z, w = KEYS[2 * i - 1], KEYS[2 * i]
  for j = 1, #ARGV, 3 do
    local id, weight, left = ARGV[j], tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
    if weight > 0 and left > 0 and not redis.call('ZSCORE', z, id) then
      redis.call('ZADD', z, now + left, id)
      redis.call('HSET', w, id, weight)
      redis.call('HINCRBY', w, '_sum', weight)
      local ttl = redis.call('PTTL', z)
      if ttl < left + 1000 then
        redis.call('PEXPIRE', z, left + 1000)
        redis.call('PEXPIRE', w, left + 1000)
      end
      if i == 1 then back = back + 1 end
    end
  end
end
return back
"""
)

REFUND = (
    _WINDOW_FUNCS
    + """
-- KEYS: z1, w1, ...; ARGV: id, amount -> weight given back (from the first window)
local back = 0
for i = 1, #KEYS / 2 do
  local b = refund(KEYS[2 * i - 1], KEYS[2 * i], ARGV[1], tonumber(ARGV[2]))
  if i == 1 then back = b end
end
return back
"""
)

EXTEND = (
    _NOW
    + """
-- KEYS: z1, w1, ...; ARGV: id, life_ms -> windows whose entry now lasts until now + life
-- (a send slower than the margin: the venue counted it late, so the fleet keeps it longer)
local life = tonumber(ARGV[2])
local n = 0
for i = 1, #KEYS / 2 do
  local z = KEYS[2 * i - 1]
  local s = redis.call('ZSCORE', z, ARGV[1])
  if s and tonumber(s) > now and tonumber(s) < now + life then
    redis.call('ZADD', z, now + life, ARGV[1])
    redis.call('PEXPIRE', z, life + 1000)
    redis.call('PEXPIRE', KEYS[2 * i], life + 1000)
    n = n + 1
  end
end
return n
"""
)

PEEK = (
    _NOW
    + """
-- KEYS: z, w -> {live weight, stated capacity or -1, reservations}: read-only
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local total = 0
for i = 1, #ids, 500 do
  local part = {}
  for j = i, math.min(i + 499, #ids) do part[#part + 1] = ids[j] end
  local ws = redis.call('HMGET', KEYS[2], unpack(part))
  for j = 1, #ws do total = total + (tonumber(ws[j]) or 0) end
end
return {total, tonumber(redis.call('HGET', KEYS[2], '_cap') or '-1'), #ids}
"""
)

LANES_ACQUIRE = (
    _NOW
    + """
-- KEYS: one lane hash per API key; ARGV: owner, holder, ttl_ms, want, then per key '1' when
-- the caller holds no lease object for it (a lease of ours left by a call that timed out may
-- be taken again, with a new epoch)
-- -> per key {1, epoch, last nonce or ''} (leased) or {0, epoch, holder, ms left} (busy/skipped)
local ttl = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local got = 0
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local f = redis.call('HMGET', k, 'owner', 'holder', 'exp', 'epoch', 'nonce')
  local exp = tonumber(f[3] or '0')
  local live = f[1] and f[1] ~= '' and exp > now
  local orphan = live and f[1] == ARGV[1] and ARGV[4 + i] == '1'
  if got < want and (orphan or not live) then
    local epoch = redis.call('HINCRBY', k, 'epoch', 1)
    redis.call('HSET', k, 'owner', ARGV[1], 'holder', ARGV[2], 'exp', now + ttl, 'since', now)
    got = got + 1
    out[i] = {1, epoch, f[5] or ''}
  else
    local left = 0
    if live then left = exp - now end
    out[i] = {0, f[4] or '0', (live and f[2]) or '', left}
  end
end
return out
"""
)

SLOT_ACQUIRE = (
    _NOW
    + """
-- KEYS: the account's slot hash; ARGV: owner, holder, ttl_ms, preferred slot (-1: none), top
-- -> {1, slot, epoch} or {0, live slots}
local k = KEYS[1]
local ttl = tonumber(ARGV[3])
local function try(s)
  local p = s .. ':'
  local f = redis.call('HMGET', k, p .. 'owner', p .. 'exp')
  if f[1] and f[1] ~= '' and tonumber(f[2] or '0') > now then return nil end
  local epoch = redis.call('HINCRBY', k, p .. 'epoch', 1)
  redis.call('HSET', k, p .. 'owner', ARGV[1], p .. 'holder', ARGV[2],
             p .. 'exp', now + ttl, p .. 'since', now)
  return {1, s, epoch}
end
local prefer = tonumber(ARGV[4])
if prefer >= 0 then
  local r = try(prefer)
  if r then return r end
end
for s = 0, tonumber(ARGV[5]) do
  if s ~= prefer then
    local r = try(s)
    if r then return r end
  end
end
return {0, tonumber(ARGV[5]) + 1}
"""
)

RENEW = (
    _NOW
    + """
-- KEYS: one hash per lease; ARGV: owner, ttl_ms, then per lease: prefix, epoch, nonce or ''
-- -> per lease 1 (renewed) or 0 (lost: expired or taken over)
local ttl = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local p, epoch, nonce = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  local f = redis.call('HMGET', k, p .. 'owner', p .. 'epoch', p .. 'exp', p .. 'nonce')
  if f[1] == ARGV[1] and f[2] == epoch and tonumber(f[3] or '0') > now then
    redis.call('HSET', k, p .. 'exp', now + ttl)
    if nonce ~= '' and (not f[4] or f[4] == '' or tonumber(nonce) > tonumber(f[4])) then
      redis.call('HSET', k, p .. 'nonce', nonce)
    end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
)

RECORD_NONCE = """
-- KEYS: lane hash; ARGV: owner, epoch, nonce -> {1, recorded} or {0, epoch now, holder now}
local f = redis.call('HMGET', KEYS[1], 'owner', 'epoch', 'nonce', 'holder')
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] then
  return {0, f[2] or '0', f[4] or ''}
end
if f[3] and f[3] ~= '' and tonumber(f[3]) >= tonumber(ARGV[3]) then return {1, f[3]} end
redis.call('HSET', KEYS[1], 'nonce', ARGV[3])
return {1, ARGV[3]}
"""

RELEASE = """
-- KEYS: lease hash; ARGV: owner, epoch, prefix -> 1 released, 0 not ours any more
local p = ARGV[3]
local f = redis.call('HMGET', KEYS[1], p .. 'owner', p .. 'epoch')
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], p .. 'owner', '', p .. 'holder', '', p .. 'exp', 0)
return 1
"""

NOW = _NOW + "\nreturn now\n"
