-- claim.lua: promote due jobs, then claim up to n ready jobs by priority (FIFO within one).
-- Each claimed job becomes running: attempts+1, a fresh token, worker id, started_at, lease.
-- Records that cannot be decoded are dead-lettered ("corrupt: ...") and claiming goes on.
-- KEYS:  the 13 queue keys (uses p, s, r, j, d, m, k, b)
-- ARGV:  now, n, lease_until, worker_id, token_base (random; token = base .. ordinal),
--        promote_limit
-- Returns: flat list id1, record1, id2, record2, ... of the claimed jobs
local now, n, lease_until, worker = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local token_base, promote_limit = ARGV[5], tonumber(ARGV[6])
promote(now, promote_limit)
local out, got = {}, 0
while got < n do
  local popped = redis.call('ZPOPMIN', K.p, n - got)
  if #popped == 0 then break end
  for i = 1, #popped, 2 do
    local id, score = popped[i], popped[i + 1]
    local rec, st, tail = load(id)
    if rec and not st then
      bury(id, 'corrupt: ' .. tail, now)
    elseif rec then
      got = got + 1
      st.st = 'r'
      st.a = (tonumber(st.a) or 0) + 1
      st.tk = token_base .. got
      st.w = worker
      st.sa = now
      st.lu = lease_until
      st.q = score  -- its place, kept for release/reap (a string: exact)
      st.ra = nil
      st.ps = nil
      out[#out + 1] = id
      out[#out + 1] = save(id, st, tail)
      redis.call('ZADD', K.r, lease_until, id)
      tenant_move(st, 'p', 'r')
    end
  end
end
return out
