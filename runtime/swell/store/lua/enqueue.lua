-- enqueue.lua: store new jobs of one queue (pending, or scheduled when run_at is in the future).
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, s, j, m, u)
-- ARGV:  jobs: a JSON array of [id, priority 0..3, run_at ('' = ready now),
--              unique_key ('' = none), tenant ('' = none)],
--        then the record of each job, in the same order
-- Returns: one {id, record} per job: {'', ''} when stored; the existing job when a job with this
--          id already exists (idempotent retries), or when the unique key is held by a
--          non-terminal job
local jobs = cjson.decode(ARGV[1])
-- Idle workers wait only while the queue is empty: wake them when it stops being empty (not for
-- every job of a busy queue, which would cost every worker a message per enqueue).
local was_empty = redis.call('ZCARD', K.p) == 0
local out = {}
for i, meta in ipairs(jobs) do
  local id, prio, run_at, uk, tn = meta[1], meta[2], meta[3], meta[4], meta[5]
  local existing = nil
  local same = fetch(id)
  if same then existing = {id, same} end
  if not existing and uk ~= '' then
    local holder = redis.call('HGET', K.u, uk)
    if holder then
      local hrec, hst = load(holder)
      if hrec and hst and not TERMINAL[status(hst)] then existing = {holder, hrec} end
    end
  end
  if existing then
    out[#out + 1] = existing
  else
    local rec = ARGV[i + 1]
    local seq = redis.call('HINCRBY', K.m, 'seq', 1)
    -- The enqueue order (st.n) sorts queries like the MemoryStore. A pending job keeps it in its
    -- pending score until claimed; a scheduled one writes it now, and st.o = the order it
    -- became scheduled, so jobs due at the same instant are promoted in that order.
    if run_at ~= '' then
      local _, st, tail = decode(rec)
      st.o = seq
      st.n = seq
      rec = cjson.encode(st) .. tail
    end
    if run_at == '' and #rec <= FRESH_MAX and string.byte(rec, 1) == 10 then
      redis.call('HSET', bucket(id), id, rec)  -- fresh: empty state line
    else
      redis.call('HSET', K.j, id, rec)
    end
    if run_at ~= '' then
      redis.call('ZADD', K.s, run_at, id)
    else
      redis.call('ZADD', K.p, tonumber(prio) * BAND + seq, id)
    end
    if uk ~= '' then redis.call('HSET', K.u, uk, id) end
    if tn ~= '' and run_at == '' then redis.call('HINCRBY', K.m, 'tp:' .. tn, 1) end
    out[#out + 1] = {'', ''}
  end
end
local stored = 0
for _, e in ipairs(out) do if e[1] == '' then stored = stored + 1 end end
if stored > 0 then redis.call('HINCRBY', K.m, 'enqueued', stored) end
if was_empty and redis.call('ZCARD', K.p) > 0 then wake() end
return out
