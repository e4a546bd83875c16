-- stats.lua: read the stats of one queue (read-only; the caller pipelines one call per queue).
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, s, r, j, d, m, t)
-- ARGV:  now
-- Returns: {pending critical, high, normal, low, scheduled (not due), scheduled due, running,
--           dead, oldest pending since ('' = none), finished in the last 60 s,
--           {stats hash as flat field, value list}}
-- Oldest pending: jobs placed by enqueue/replay are ready in their place order, so the first
-- of each band is the oldest of those; the few others (promoted at the back although ready
-- since their run_at, requeued at their old place although ready since now) are in :a.
local now = tonumber(ARGV[1])
local out = {}
local oldest = nil
local firsts = redis.call('ZRANGE', K.a, 0, 7, 'WITHSCORES')
for i = 1, #firsts, 2 do  -- (defensive: skip an entry whose job is no longer pending)
  if redis.call('ZSCORE', K.p, firsts[i]) then oldest = tonumber(firsts[i + 1]) break end
end
for band = 0, 3 do
  local lo, hi = band * BAND, (band + 1) * BAND - 1
  out[#out + 1] = redis.call('ZCOUNT', K.p, lo, hi)
  local offset, found = 0, false
  while not found and offset < 1024 do
    local ids = redis.call('ZRANGEBYSCORE', K.p, lo, hi, 'LIMIT', offset, 32)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if not redis.call('ZSCORE', K.a, id) then
        found = true
        local rec, st, tail = load(id)
        if st then
          local since = tonumber(st.ps) or tonumber(string.match(tail, '^\n([^\n]*)'))
          if since and (not oldest or since < oldest) then oldest = since end
        end
        break
      end
    end
    offset = offset + 32
  end
end
out[#out + 1] = redis.call('ZCOUNT', K.s, '(' .. ARGV[1], '+inf')
out[#out + 1] = redis.call('ZCOUNT', K.s, '-inf', ARGV[1])
out[#out + 1] = redis.call('ZCARD', K.r)
out[#out + 1] = redis.call('ZCARD', K.d)
out[#out + 1] = oldest and string.format('%.6f', oldest) or ''
local since = math.floor(now) - 59
local done = 0
local buckets = redis.call('HGETALL', K.t)
for i = 1, #buckets, 2 do
  if tonumber(buckets[i]) >= since then done = done + tonumber(buckets[i + 1]) end
end
out[#out + 1] = done
out[#out + 1] = redis.call('HGETALL', K.m)
return out
