-- enqueue.lua: store new jobs of one queue (pending, or scheduled when run_at is in the future).
-- KEYS:  the 13 queue keys (uses p pending, s scheduled, j jobs, m stats, u unique)
-- ARGV:  groups of 6 per job: id, record, priority (0..3), run_at ('' = ready now),
--        unique_key ('' = none), tenant ('' = none)
-- Returns: one {id, record} per job: {'', ''} when stored; the existing job when the unique key
--          is held by a non-terminal job, or when a job with this id already exists (idempotent).
local out = {}
for i = 1, #ARGV, 6 do
  local id, rec, prio, run_at, uk, tn = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
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
    redis.call('HSET', K.j, id, rec)
    if run_at ~= '' then
      redis.call('ZADD', K.s, run_at, id)
    else
      local seq = redis.call('HINCRBY', K.m, 'seq', 1)
      redis.call('ZADD', K.p, tonumber(prio) * BAND + seq, id)
    end
    if uk ~= '' then redis.call('HSET', K.u, uk, id) end
    redis.call('HINCRBY', K.m, 'enqueued', 1)
    if tn ~= '' and run_at == '' then redis.call('HINCRBY', K.m, 'tp:' .. tn, 1) end
    out[#out + 1] = {'', ''}
  end
end
return out
