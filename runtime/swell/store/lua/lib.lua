-- lib.lua: helpers prepended to every swell script (not a transition by itself). Only top-level
-- `local` definitions here: each script gets just the ones it refers to, and a K with just
-- the keys it uses (swell.store.lua_source).
--
-- Every script receives ONE key: the base "<prefix>:{queue}:" of one queue's keys, and names
-- them from it (swell.store.keys.QUEUE_KEY_NAMES). They all share the hash tag {queue}: a
-- script never spans two Cluster slots, and the one key routes it. (Passing the 15 names would
-- cost more than the work of a small batch.)
-- A job record is "<state JSON>\n<created_at>\n<type>\n<args>[\n<extra>]" (swell.store.record):
-- Lua only decodes and rewrites the small state object (status, attempts, lease, token, ...);
-- the rest ("tail": created_at, type, args, ...) is never re-encoded, so user data keeps its
-- exact JSON. Times in the state are strings written by Python (repr of a float) so that
-- cjson's 14-digit number output never rounds them.
-- Redis does not roll back a script that errors half-way: helpers use pcall where data may be bad.
local B = KEYS[1]
local K = {p = B .. 'p', s = B .. 's', r = B .. 'r', j = B .. 'j', c = B .. 'c', x = B .. 'x', d = B .. 'd',
           m = B .. 'm', t = B .. 't', u = B .. 'u', k = B .. 'k', b = B .. 'b', l = B .. 'l',
           a = B .. 'a', f = B .. 'f:'}
local BAND = 17592186044416  -- 2^44 = swell.job.PRIORITY_BAND
local TERMINAL = {c = true, f = true, x = true}
-- tenant gauge field for each status code (as MemoryStore: pending means ready to claim)
local TENANT_FIELD = {p = 'tp:', r = 'tr:', c = 'tc:', f = 'tf:'}

-- Returns record, state, tail ("\n<created_at>\n...") -- or record, nil, message when the
-- record is corrupt, or nil when there is no record.
local function decode(rec)
  if not rec then return nil end
  local nl = string.find(rec, '\n', 1, true)
  if not nl then return rec, nil, 'job record has no state line' end
  if nl == 1 then return rec, {}, rec end  -- a fresh pending job: empty state
  local ok, st = pcall(cjson.decode, string.sub(rec, 1, nl - 1))
  if not ok then return rec, nil, 'job state is not JSON: ' .. tostring(st) end
  if type(st) ~= 'table' then return rec, nil, 'job state is not a JSON object' end
  return rec, st, string.sub(rec, nl)
end

-- Fresh records (pending, never claimed, empty state, short) live in small hashes
-- "P:{q}:f:<last 2 bytes of the id>" that Redis keeps listpack-encoded: about 55 bytes a job
-- instead of about 120 in the big :j hash. Every other record lives in :j; a record is in
-- exactly one of the two.
local FRESH_MAX = 60  -- under hash-max-listpack-value (64), or the bucket would convert
local function bucket(id) return K.f .. string.sub(id, -2) end

-- The raw record and whether it is a fresh one.
local function fetch(id)
  local rec = redis.call('HGET', K.j, id)
  if rec then return rec, false end
  rec = redis.call('HGET', bucket(id), id)
  return rec, rec and true or false
end

local function load(id)
  local raw, fresh = fetch(id)
  local rec, st, tail = decode(raw)
  return rec, st, tail, fresh
end

-- Write a record back to :j (a fresh one leaves its bucket: it has a state now).
local function save(id, st, tail, fresh)
  local rec = cjson.encode(st) .. tail
  redis.call('HSET', K.j, id, rec)
  if fresh then redis.call('HDEL', bucket(id), id) end
  return rec
end

local function status(st) return st.st or 'p' end

-- Wake the idle workers of this queue (RedisStore.wait_for_work listens on "<base>wake"): at
-- most one message per script call. pcall: a user without channel rights (ACL &pattern) must
-- still be able to run every transition; workers then find jobs by polling.
local woken = false
local function wake()
  if not woken then
    woken = true
    redis.pcall('PUBLISH', B .. 'wake', '1')
  end
end

-- A new place at the back of the job's priority band.
local function push_pending(id, st)
  wake()
  local seq = redis.call('HINCRBY', K.m, 'seq', 1)
  redis.call('ZADD', K.p, (tonumber(st.p) or 2) * BAND + seq, id)
end

-- A running job goes back to pending at its old place (the score claim saved in st.q), so it
-- is claimed again ahead of jobs enqueued after it. It is ready since now: its place says
-- otherwise, so the ready-since index :a records it (see stats.lua).
local function requeue(id, st, now)
  wake()
  if st.q then redis.call('ZADD', K.p, st.q, id) else push_pending(id, st) end
  st.q = nil
  redis.call('ZADD', K.a, now, id)
end

-- Tenant gauges follow the job's status; completed/failed only ever grow (they are counters).
local function tenant_move(st, from, to)
  if not st.tn then return end
  local a, b = TENANT_FIELD[from], TENANT_FIELD[to]
  if a == b then return end
  if a and not TERMINAL[from] then redis.call('HINCRBY', K.m, a .. st.tn, -1) end
  if b then redis.call('HINCRBY', K.m, b .. st.tn, 1) end
end

local function free_unique(id, st)
  if st.uk and redis.call('HGET', K.u, st.uk) == id then redis.call('HDEL', K.u, st.uk) end
end

local function finished(now)
  redis.call('HINCRBY', K.t, string.format('%d', math.floor(tonumber(now))), 1)
end

-- Terminal sets (completed, cancelled, dead) are scored by a per-queue finish sequence, not by
-- time: equal timestamps keep their finish order. Age comes from the record's "fa".
local function add_finished(zkey, id)
  redis.call('ZADD', zkey, redis.call('HINCRBY', K.m, 'fseq', 1), id)
end

local function drop(zkey, ids)
  if #ids > 0 then
    redis.call('ZREM', zkey, unpack(ids))
    redis.call('HDEL', K.j, unpack(ids))
    redis.call('HDEL', K.b, unpack(ids))
  end
end

-- Ids at the head (oldest finishers) of a terminal set that finished before `cutoff` (at or
-- before it when purging), at most `limit`. Corrupt records have no time: retention keeps them
-- (capped by count only, they are evidence), an explicit purge deletes them.
local function finished_before(zkey, cutoff, purging, limit)
  local cut, out, start = tonumber(cutoff), {}, 0
  while #out < limit do
    local ids = redis.call('ZRANGE', zkey, start, start + 15)
    if #ids == 0 then return out end
    for _, id in ipairs(ids) do
      local rec, st = load(id)
      if st then
        local fa = tonumber(st.fa) or 0
        if fa > cut or (fa == cut and not purging) then return out end
        out[#out + 1] = id
      elseif rec == nil or purging then
        out[#out + 1] = id
      end
      if #out >= limit then return out end
    end
    start = start + 16
  end
  return out
end

-- Retention: drop jobs finished before cutoff (unless by_age is false), then the oldest beyond
-- maxn. At most `limit` of each per call: retention catches up over a few calls and never
-- blocks Redis for long.
local function trim(zkey, cutoff, maxn, limit, by_age)
  if by_age ~= false then drop(zkey, finished_before(zkey, cutoff, false, limit)) end
  -- By count: once more than 1 % (at most 100) over the cap, back down to it: a steady stream
  -- then trims every ~100 jobs in one go instead of a few jobs in every batch.
  local over = redis.call('ZCARD', zkey) - tonumber(maxn)
  if over > math.min(100, math.floor(tonumber(maxn) / 100)) then  -- the oldest, popped
    local popped, ids = redis.call('ZPOPMIN', zkey, math.min(over, limit)), {}
    for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
    redis.call('HDEL', K.j, unpack(ids))
    redis.call('HDEL', K.b, unpack(ids))
  end
end

-- Dead-letter a record that cannot be decoded; the raw record stays as evidence.
local function bury(id, reason, now)
  local raw, fresh = fetch(id)
  if fresh then  -- keep the evidence where dead records live
    redis.call('HSET', K.j, id, raw)
    redis.call('HDEL', bucket(id), id)
  end
  redis.call('ZREM', K.p, id)
  redis.call('ZREM', K.a, id)
  redis.call('ZREM', K.s, id)
  redis.call('ZREM', K.r, id)
  redis.call('SREM', K.k, id)
  add_finished(K.d, id)
  redis.call('HSET', K.b, id, reason)
  redis.call('HINCRBY', K.m, 'failed', 1)
end

-- Move scheduled/retrying jobs whose run_at has come to pending, in (run_at, order they
-- became scheduled) order; returns how many.
local function promote(now, limit)
  local due = redis.call('ZRANGEBYSCORE', K.s, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  if #due == 0 then return 0 end
  local ids = {}
  for i = 1, #due, 2 do ids[#ids + 1] = due[i] end
  redis.call('ZREM', K.s, unpack(ids))
  local recs = redis.call('HMGET', K.j, unpack(ids))
  local ready = {}
  for i, id in ipairs(ids) do
    local rec, st, tail = decode(recs[i])
    if rec and not st then
      bury(id, 'corrupt: ' .. tail, now)
    elseif rec then
      ready[#ready + 1] = {tonumber(due[2 * i]), tonumber(st.o) or 0, id, st, tail}
    end
  end
  table.sort(ready, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  for _, e in ipairs(ready) do
    local id, st, tail = e[3], e[4], e[5]
    tenant_move(st, status(st), 'p')
    st.st = nil
    st.o = nil
    save(id, st, tail)
    push_pending(id, st)
    redis.call('ZADD', K.a, e[1], id)  -- ready since its run_at, though placed at the back
  end
  return #ids
end
