-- reap.lua: return running jobs whose lease expired, or whose worker is dead, to pending,
-- counting a redelivery; beyond max_redeliveries dead-letter them as poison; a cancel-requested
-- one ends cancelled.
-- Runs only while the caller holds the reaper lock (SET NX PX by the caller with lock_token);
-- releases the lock when no expired lease is left.
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, r, j, x, d, m, t, u, k, b, l, a, f)
-- ARGV:  now, lock_token, limit, max_redeliveries, dead_cutoff, dead_max, completed_cutoff,
--        completed_max, dead workers (JSON array of worker ids whose heartbeat stopped, or ''):
--        their running jobs in this queue are reaped whatever their lease says
-- Returns: {requeued ids}, {dead ids}, more (1 = limit reached, call again), locked (0 = lock lost)
local now, token, limit, max_redeliveries = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('GET', K.l) ~= token then return {{}, {}, 0, 0} end
local requeued, dead, cancelled = {}, {}, 0

local function reap(id, rec, st, tail)
  redis.call('ZREM', K.r, id)
  if rec and not st then
    bury(id, 'corrupt: ' .. tail, now)
    dead[#dead + 1] = id
  elseif rec then
    local cancel = redis.call('SREM', K.k, id) == 1
    local times = (tonumber(st.rd) or 0) + 1
    st.tk = nil
    st.lu = nil
    st.cr = nil
    redis.call('HINCRBY', K.m, 'redelivered', 1)
    if cancel then
      st.q = nil
      st.st = 'x'
      st.fa = now
      add_finished(K.x, id)
      redis.call('HINCRBY', K.m, 'cancelled', 1)
      cancelled = cancelled + 1
      free_unique(id, st)
      tenant_move(st, 'r', 'x')
    elseif times > max_redeliveries then
      st.rd = times
      st.q = nil
      st.st = 'f'
      st.fa = now
      st.dr = 'poison: lease expired ' .. times .. ' times'
      st.e = cjson.encode({type = 'LeaseExpired', message = 'lease expired ' .. times ..
        ' times without the job finishing (max_redeliveries=' .. max_redeliveries .. ')'})
      add_finished(K.d, id)
      redis.call('HINCRBY', K.m, 'failed', 1)
      free_unique(id, st)
      tenant_move(st, 'r', 'f')
      finished(now)
      dead[#dead + 1] = id
    else
      st.rd = times
      st.st = nil
      st.w = nil
      requeue(id, st, now)
      tenant_move(st, 'r', 'p')
      requeued[#requeued + 1] = id
    end
    save(id, st, tail)
  end
end

local ids = redis.call('ZRANGEBYSCORE', K.r, '-inf', '(' .. now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local rec, st, tail = load(id)
  reap(id, rec, st, tail)
end
local more = #ids >= limit and 1 or 0
if more == 0 and ARGV[9] and ARGV[9] ~= '' then
  -- Running jobs of dead workers: the running set is bounded by the workers' concurrency, and
  -- the caller asks only once per dead worker, so scanning it is cheap.
  local gone = {}
  for _, w in ipairs(cjson.decode(ARGV[9])) do gone[w] = true end
  for _, id in ipairs(redis.call('ZRANGE', K.r, 0, -1)) do
    local rec, st, tail = load(id)
    if st and st.w and gone[st.w] then reap(id, rec, st, tail) end
  end
end
if #dead > 0 then trim(K.d, ARGV[5], ARGV[6], limit) end
if cancelled > 0 then trim(K.x, ARGV[7], ARGV[8], limit) end
if more == 0 then redis.call('DEL', K.l) end
return {requeued, dead, more, 1}
