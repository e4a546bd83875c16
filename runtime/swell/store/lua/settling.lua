-- settling.lua: settle_batch(), shared by settle.lua and settle_claim.lua (not a script by itself).
-- Applies the outcomes of many attempts of one queue (complete, retry, fail, release,
-- bury), each only if the job is still running under the given token (fencing). Then applies
-- retention to the completed, cancelled and dead sets. Work is batched: a few commands per
-- call plus the cjson of each job's small state.
-- now, completed_ttl, completed_max, dead_ttl, dead_max, trim_limit: strings as settle.lua
-- gets them; batch: the decoded outcomes (see settle.lua); worker_json: the settling worker's
-- id as JSON when known (settle_claim.lua), for the fast path of completed_state().
-- Returns: one 1 (applied) or 0 (token lost: nothing changed) per outcome
-- The state of a job completed from the exact state claiming.lua writes for a fresh job (only
-- when that is what the record holds: same token, this worker, lease never renewed), written
-- without cjson; nil otherwise. Same fields as the general path: tk, lu, q dropped; st, fa, r set.
local function completed_state(raw, token, worker_json, now, payload)
  if not raw then return nil end
  local prefix = '{"st":"r","a":1,"tk":"' .. token .. '","w":' .. worker_json .. ',"sa":"'
  if string.sub(raw, 1, #prefix) ~= prefix then return nil end
  local sa, n, tail = string.match(raw, '^([^"]*)","lu":"[^"]*","q":"[^"]*","n":(%d+)}(\n.*)$', #prefix + 1)
  if not sa then return nil end
  local result = ''
  if payload ~= '' then result = ',"r":' .. cjson.encode(payload) end
  return '{"st":"c","a":1,"w":' .. worker_json .. ',"sa":"' .. sa .. '","n":' .. n .. ',"fa":"' .. now ..
         '"' .. result .. '}' .. tail
end

local function settle_batch(now, completed_ttl, completed_max, dead_ttl, dead_max, trim_limit, batch,
                            worker_json)
  -- the cutoffs here rather than in Python: the same double arithmetic, two fewer strings to send
  local completed_cutoff = tonumber(now) - tonumber(completed_ttl)
  local dead_cutoff = tonumber(now) - tonumber(dead_ttl)
  local ids = {}
  for i, o in ipairs(batch) do ids[i] = o[2] end
  local recs = redis.call('HMGET', K.j, unpack(ids))
  local check_cancel = redis.call('SCARD', K.k) > 0
  local out, applied = {}, {}
  local hset, zrem, retry_add = {}, {}, {}
  local terminal = {}  -- {zkey, id} in finish order; scored by the finish sequence at the end
  local incr = {}  -- stats hash field -> delta
  local durations = {}  -- type -> {n, sum, min, max}
  local finished_n = 0

  local function bump(field, by) incr[field] = (incr[field] or 0) + (by or 1) end
  local function tenant(st, from, to)
    if not st.tn then return end
    local a, b = TENANT_FIELD[from], TENANT_FIELD[to]
    if a and not TERMINAL[from] then bump(a .. st.tn, -1) end
    if b then bump(b .. st.tn, 1) end
  end
  local function duration(jtype, secs)
    local v = tonumber(secs)
    if not v then return end
    local d = durations[jtype]
    if not d then durations[jtype] = {1, v, v, v} return end
    d[1] = d[1] + 1
    d[2] = d[2] + v
    if v < d[3] then d[3] = v end
    if v > d[4] then d[4] = v end
  end
  local function completed(id, o)  -- a completion's bookkeeping, however its state was written
    terminal[#terminal + 1] = {K.c, id}
    bump('completed')
    finished_n = finished_n + 1
    duration(o[7], o[6])
  end

  for i, o in ipairs(batch) do
    local kind, id, token, payload, extra = o[1], o[2], o[3], o[4], o[5]
    local done = nil
    if kind == 'c' and worker_json and not check_cancel and not applied[id] then
      done = completed_state(recs[i], token, worker_json, now, payload)
    end
    local rec, st, tail
    if not done then rec, st, tail = decode(recs[i]) end
    if done then  -- the common case: a fresh job completed by the worker that claimed it
      applied[id] = true
      out[i] = 1
      zrem[#zrem + 1] = id
      completed(id, o)
      hset[#hset + 1] = id
      hset[#hset + 1] = done
    elseif applied[id] or not (rec and st and status(st) == 'r' and st.tk == token) then
      out[i] = 0
    elseif kind == 'b' then
      applied[id] = true
      bury(id, extra, now)
      out[i] = 1
    else
      applied[id] = true
      out[i] = 1
      zrem[#zrem + 1] = id
      local cancel = check_cancel and redis.call('SREM', K.k, id) == 1
      st.tk = nil
      st.lu = nil
      st.cr = nil
      if kind == 'l' and not cancel then
        st.st = nil
        st.a = math.max(0, (tonumber(st.a) or 1) - 1)
        st.w = nil
        requeue(id, st, now)
        tenant(st, 'r', 'p')
      elseif kind == 'c' then
        st.q = nil
        st.st = 'c'
        st.fa = now
        if payload ~= '' then st.r = payload end
        completed(id, o)
        free_unique(id, st)
        tenant(st, 'r', 'c')
      elseif kind == 'y' and not cancel then
        st.q = nil
        st.st = 'y'
        st.w = nil
        st.ra = extra
        st.o = redis.call('HINCRBY', K.m, 'seq', 1)
        if payload ~= '' then st.e = payload end
        retry_add[#retry_add + 1] = extra
        retry_add[#retry_add + 1] = id
        bump('retried')
        tenant(st, 'r', 'y')
      elseif cancel then
        st.q = nil
        st.st = 'x'
        st.fa = now
        if payload ~= '' then st.e = payload end
        terminal[#terminal + 1] = {K.x, id}
        bump('cancelled')
        free_unique(id, st)
        tenant(st, 'r', 'x')
      else
        st.q = nil
        st.st = 'f'
        st.fa = now
        if payload ~= '' then st.e = payload end
        if extra ~= '' then st.dr = extra end
        terminal[#terminal + 1] = {K.d, id}
        bump('failed')
        free_unique(id, st)
        tenant(st, 'r', 'f')
        finished_n = finished_n + 1
      end
      hset[#hset + 1] = id
      hset[#hset + 1] = cjson.encode(st) .. tail
    end
  end

  if #zrem > 0 then redis.call('ZREM', K.r, unpack(zrem)) end
  if #hset > 0 then redis.call('HSET', K.j, unpack(hset)) end
  if #retry_add > 0 then redis.call('ZADD', K.s, unpack(retry_add)) end
  if #terminal > 0 then
    local seq = redis.call('HINCRBY', K.m, 'fseq', #terminal) - #terminal
    local adds = {}
    for _, e in ipairs(terminal) do
      seq = seq + 1
      local a = adds[e[1]]
      if not a then a = {}; adds[e[1]] = a end
      a[#a + 1] = seq
      a[#a + 1] = e[2]
    end
    for zkey, a in pairs(adds) do redis.call('ZADD', zkey, unpack(a)) end
  end
  for field, by in pairs(incr) do
    if by ~= 0 then redis.call('HINCRBY', K.m, field, by) end
  end
  for jtype, d in pairs(durations) do
    redis.call('HINCRBY', K.m, 'dn:' .. jtype, d[1])
    redis.call('HINCRBYFLOAT', K.m, 'ds:' .. jtype, d[2])
    local lo, hi = unpack(redis.call('HMGET', K.m, 'dl:' .. jtype, 'dh:' .. jtype))
    if not tonumber(lo) or d[3] < tonumber(lo) then redis.call('HSET', K.m, 'dl:' .. jtype, d[3]) end
    if not tonumber(hi) or d[4] > tonumber(hi) then redis.call('HSET', K.m, 'dh:' .. jtype, d[4]) end
  end
  -- Retention by count after every batch; by age (and pruning of old throughput buckets) at
  -- most once a second per queue: that work costs more than a small batch itself. The first
  -- settle of a second is the one that starts that second's throughput counter (a 0 when
  -- nothing finished: harmless), so telling it costs no extra call.
  local limit = tonumber(trim_limit)
  local second = string.format('%d', math.floor(tonumber(now)))
  local sweep = redis.call('HINCRBY', K.t, second, finished_n) == finished_n
  if incr['completed'] then trim(K.c, completed_cutoff, completed_max, limit, sweep) end
  if incr['cancelled'] then trim(K.x, completed_cutoff, completed_max, limit, sweep) end
  if incr['failed'] then trim(K.d, dead_cutoff, dead_max, limit, sweep) end
  if sweep and redis.call('HLEN', K.t) > 180 then
    local cut = math.floor(tonumber(now)) - 120
    for _, f in ipairs(redis.call('HKEYS', K.t)) do
      if tonumber(f) < cut then redis.call('HDEL', K.t, f) end
    end
  end
  return out
end
