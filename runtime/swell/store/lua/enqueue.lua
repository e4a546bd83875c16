-- enqueue.lua: store new jobs of one queue (pending, or scheduled when run_at is in the future).
-- KEYS:  the 14 queue keys (uses p, s, j, m, u)
-- ARGV:  jobs: a JSON array of [id, priority 0..3, run_at ('' = ready now),
--              unique_key ('' = none), tenant ('' = none)],
--        then the record of each job, in the same order
-- Returns: one {id, record} per job: {'', ''} when stored; the existing job when a job with this
--          id already exists (idempotent retries), or when the unique key is held by a
--          non-terminal job
local jobs = cjson.decode(ARGV[1])
local out = {}
-- Jobs created at the same instant as the previous one of this queue get st.n = their enqueue
-- sequence, so queries can list them in enqueue order (with a real clock this is rare).
local last = tonumber(redis.call('HGET', K.m, 'lc'))
local last_new = last
for i, meta in ipairs(jobs) do
  local id, prio, run_at, uk, tn = meta[1], meta[2], meta[3], meta[4], meta[5]
  local existing = nil
  local same = redis.call('HGET', K.j, id)
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
    local created = tonumber(string.match(rec, '^[^\n]*\n([^\n]*)'))
    local tie = created and last_new and created <= last_new
    if created and (not last_new or created > last_new) then last_new = created end
    if run_at ~= '' or tie then
      local _, st, tail = decode(rec)
      -- st.o = order it became scheduled: jobs due at the same instant are promoted in order
      if run_at ~= '' then st.o = seq end
      if tie then st.n = seq end
      rec = cjson.encode(st) .. tail
    end
    redis.call('HSET', K.j, id, rec)
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
if last_new and last_new ~= last then redis.call('HSET', K.m, 'lc', string.format('%.17g', last_new)) end
return out
