-- settle.lua: apply the outcomes of many attempts of one queue (complete, retry, fail, release,
-- bury), each only if the job is still running under the given token (fencing). Then applies
-- retention to the completed and dead sets.
-- KEYS:  the 13 queue keys (uses p, s, r, j, c, x, d, m, t, u, k, b)
-- ARGV:  now, completed_cutoff, completed_max, dead_cutoff, dead_max, trim_limit,
--        then groups of 7 per outcome: kind, id, token, payload, extra, duration, type
--          kind 'c' complete: payload = result JSON ('' = None)
--          kind 'y' retry:    payload = error JSON, extra = run_at of the next attempt
--          kind 'f' fail:     payload = error JSON ('' = none), extra = dead reason ('' = none)
--          kind 'l' release:  back to pending, the attempt not counted
--          kind 'b' bury:     the record is corrupt (found by Python); extra = reason
--        duration = seconds the attempt ran ('' = unknown), type = job type (duration stats)
-- Returns: one 1 (applied) or 0 (token lost: nothing changed) per outcome
local now = ARGV[1]
local out = {}
local trim_done, trim_dead = false, false

local function duration(jtype, secs)
  if secs == '' then return end
  local v = tonumber(secs)
  redis.call('HINCRBY', K.m, 'dn:' .. jtype, 1)
  redis.call('HINCRBYFLOAT', K.m, 'ds:' .. jtype, secs)
  local lo = tonumber(redis.call('HGET', K.m, 'dl:' .. jtype))
  if not lo or v < lo then redis.call('HSET', K.m, 'dl:' .. jtype, secs) end
  local hi = tonumber(redis.call('HGET', K.m, 'dh:' .. jtype))
  if not hi or v > hi then redis.call('HSET', K.m, 'dh:' .. jtype, secs) end
end

for i = 7, #ARGV, 7 do
  local kind, id, token, payload, extra = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local rec, st, tail = load(id)
  if kind == 'b' then
    local ok = false
    if rec and st and status(st) == 'r' and st.tk == token then ok = true end
    if ok then bury(id, extra, now); trim_dead = true end
    out[#out + 1] = ok and 1 or 0
  elseif rec and st and status(st) == 'r' and st.tk == token then
    redis.call('ZREM', K.r, id)
    local cancel = redis.call('SREM', K.k, id) == 1
    st.tk = nil
    st.lu = nil
    st.cr = nil
    if kind == 'l' and not cancel then
      st.st = nil
      st.a = math.max(0, (tonumber(st.a) or 1) - 1)
      st.w = nil
      requeue(id, st, now)
      tenant_move(st, 'r', 'p')
    elseif kind == 'c' then
      st.q = nil
      st.st = 'c'
      st.fa = now
      if payload ~= '' then st.r = payload end
      add_finished(K.c, id)
      redis.call('HINCRBY', K.m, 'completed', 1)
      free_unique(id, st)
      tenant_move(st, 'r', 'c')
      finished(now)
      duration(ARGV[i + 6], ARGV[i + 5])
      trim_done = true
    elseif kind == 'y' and not cancel then
      st.q = nil
      st.st = 'y'
      st.w = nil
      st.ra = extra
      if payload ~= '' then st.e = payload end
      redis.call('ZADD', K.s, extra, id)
      redis.call('HINCRBY', K.m, 'retried', 1)
      tenant_move(st, 'r', 'y')
    elseif cancel then
      -- the worker stopped a job whose cancellation was requested: it ends cancelled
      st.q = nil
      st.st = 'x'
      st.fa = now
      if payload ~= '' then st.e = payload end
      add_finished(K.x, id)
      redis.call('HINCRBY', K.m, 'cancelled', 1)
      free_unique(id, st)
      tenant_move(st, 'r', 'x')
      trim_done = true
    else
      st.q = nil
      st.st = 'f'
      st.fa = now
      if payload ~= '' then st.e = payload end
      if extra ~= '' then st.dr = extra end
      add_finished(K.d, id)
      redis.call('HINCRBY', K.m, 'failed', 1)
      free_unique(id, st)
      tenant_move(st, 'r', 'f')
      finished(now)
      trim_dead = true
    end
    save(id, st, tail)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end

local limit = tonumber(ARGV[6])
if trim_done then
  trim(K.c, ARGV[2], ARGV[3], limit)
  trim(K.x, ARGV[2], ARGV[3], limit)
end
if trim_dead then trim(K.d, ARGV[4], ARGV[5], limit) end
-- throughput buckets: one field per second; prune old ones once in a while
if redis.call('HLEN', K.t) > 180 then
  local cut = math.floor(tonumber(now)) - 120
  local all = redis.call('HKEYS', K.t)
  for _, f in ipairs(all) do
    if tonumber(f) < cut then redis.call('HDEL', K.t, f) end
  end
end
return out
