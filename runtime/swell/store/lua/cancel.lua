-- cancel.lua: cancel one job: pending/scheduled/retrying -> cancelled at once; running -> flagged
-- (the worker learns it from extend.lua and stops the job); terminal -> unchanged.
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, s, j, x, m, u, k)
-- ARGV:  now, id, completed_cutoff, completed_max
-- Returns: {code, record}: code 'cancelled', 'flagged', 'terminal', 'missing' or 'corrupt'
local now, id = ARGV[1], ARGV[2]
local rec, st, tail, fresh = load(id)
if not rec then return {'missing', ''} end
if not st then return {'corrupt', rec} end
local from = status(st)
if TERMINAL[from] then return {'terminal', rec} end
if from == 'r' then
  redis.call('SADD', K.k, id)
  st.cr = true
  return {'flagged', save(id, st, tail)}
end
if not st.n then  -- a never-claimed job: its enqueue order is in its pending score
  local score = redis.call('ZSCORE', K.p, id)
  if score then st.n = tonumber(score) % BAND end
end
redis.call('ZREM', K.p, id)
redis.call('ZREM', K.s, id)
redis.call('ZREM', K.a, id)
st.st = 'x'
st.ps = nil
st.fa = now
add_finished(K.x, id)
redis.call('HINCRBY', K.m, 'cancelled', 1)
free_unique(id, st)
tenant_move(st, from, 'x')
rec = save(id, st, tail, fresh)
trim(K.x, ARGV[3], ARGV[4], 1000)
return {'cancelled', rec}
