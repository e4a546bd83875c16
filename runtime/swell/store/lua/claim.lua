-- claim.lua: promote due jobs, then claim up to n ready jobs by priority (FIFO within one).
-- Each claimed job becomes running: attempts+1, a fresh token, worker id, started_at, lease.
-- Records that cannot be decoded are dead-lettered ("corrupt: ...") and claiming goes on.
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, s, r, j, d, m, k, b, a, f)
-- ARGV:  now, n (at most 1000), lease_until, worker_id, token_base (random; the token of the
--        k-th claimed job is token_base .. k), promote_limit
-- Returns: flat list id1, record1, id2, record2, ... of the claimed jobs, in claim order
local now, n, lease_until, worker = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local token_base, promote_limit = ARGV[5], tonumber(ARGV[6])
promote(now, promote_limit)
local out, got = {}, 0
local hset, zadd, zrem_ready = {}, {}, {}
while got < n do
  local popped = redis.call('ZPOPMIN', K.p, n - got)
  if #popped == 0 then break end
  local ids = {}
  for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
  local recs = redis.call('HMGET', K.j, unpack(ids))
  for i, id in ipairs(ids) do
    local raw, fresh = recs[i], false
    if not raw then
      raw = redis.call('HGET', bucket(id), id)
      fresh = raw and true or false
    end
    local rec, st, tail = decode(raw)
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
      st.q = popped[2 * i]  -- its place, kept for release/reap (a string: exact)
      if not st.n then st.n = tonumber(st.q) % BAND end  -- first claim: enqueue order
      st.ra = nil
      st.ps = nil
      zrem_ready[#zrem_ready + 1] = id
      rec = cjson.encode(st) .. tail
      out[#out + 1] = id
      out[#out + 1] = rec
      hset[#hset + 1] = id
      hset[#hset + 1] = rec
      zadd[#zadd + 1] = lease_until
      zadd[#zadd + 1] = id
      tenant_move(st, 'p', 'r')
      if fresh then redis.call('HDEL', bucket(id), id) end
    end
  end
end
if got > 0 then
  redis.call('HSET', K.j, unpack(hset))
  redis.call('ZADD', K.r, unpack(zadd))
  if redis.call('EXISTS', K.a) == 1 then redis.call('ZREM', K.a, unpack(zrem_ready)) end
end
return out
