-- stats.lua: read the stats of one queue (read-only; the caller pipelines one call per queue).
-- KEYS:  the 13 queue keys (uses p, s, r, j, d, m, t)
-- ARGV:  now
-- Returns: {pending critical, high, normal, low, scheduled (not due), scheduled due, running,
--           dead, oldest pending since ('' = none), finished in the last 60 s,
--           {stats hash as flat field, value list}}
local now = tonumber(ARGV[1])
local out = {}
local oldest = nil
for band = 0, 3 do
  local lo, hi = band * BAND, (band + 1) * BAND - 1
  out[#out + 1] = redis.call('ZCOUNT', K.p, lo, hi)
  local head = redis.call('ZRANGEBYSCORE', K.p, lo, hi, 'LIMIT', 0, 1)
  if head[1] then
    local rec, st, tail = load(head[1])
    if st then
      local since = tonumber(st.ps) or tonumber(st.ra) or tonumber(string.match(tail, '^\n([^\n]*)'))
      if since and (not oldest or since < oldest) then oldest = since end
    end
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
