-- claiming.lua: claim_jobs(), shared by claim.lua and settle_claim.lua (not a script by itself).
-- Promotes due jobs, then claims up to n ready jobs by priority (FIFO within one).
-- Each claimed job becomes running: attempts+1, a fresh token, worker id, started_at, lease.
-- Records that cannot be decoded are dead-lettered ("corrupt: ...") and claiming goes on.
-- now, lease_until: times as strings; n: at most 1000; token_base: random, the token of the
-- k-th claimed job is token_base .. k; promote_limit: 0 = no promotion in this call.
-- Returns: flat list id1, record1, id2, record2, ... of the claimed jobs, in claim order. A
-- record with an empty state line was claimed from its first pending place (status pending,
-- attempts 0, no state fields): its state is exactly what this claim gives every job (running,
-- attempts 1, token token_base .. k for the k-th job, worker, started now, lease_until, no
-- tenant), so the reply leaves it out (swell.store.record.decode_claimed).
local function claim_jobs(now, n, lease_until, worker, token_base, promote_limit)
  if promote_limit > 0 then promote(now, promote_limit) end
  local out, got = {}, 0
  local hset, zadd, zrem_ready = {}, {}, {}
  local unbucket, buckets = {}, {}  -- bucket -> ids of fresh jobs claimed from it
  local worker_json = cjson.encode(worker)
  while got < n do
    local popped = redis.call('ZPOPMIN', K.p, n - got)
    if #popped == 0 then break end
    -- The records: fresh ones from their buckets, one HMGET per bucket (ids enqueued together
    -- share one, see swell.job.new_id), the others from :j. A redis.call costs more than the
    -- command it runs, so fewer calls matter more than smaller ones.
    local ids, groups, order = {}, {}, {}
    for i = 1, #popped, 2 do
      local id = popped[i]
      ids[#ids + 1] = id
      local b = bucket(id)
      local g = groups[b]
      if not g then g = {}; groups[b] = g; order[#order + 1] = b end
      g[#g + 1] = id
    end
    local recs, from, missing = {}, {}, {}
    for _, b in ipairs(order) do
      local g = groups[b]
      local found = redis.call('HMGET', b, unpack(g))
      for k, id in ipairs(g) do
        if found[k] then recs[id] = found[k]; from[id] = b end
      end
    end
    for _, id in ipairs(ids) do
      if not recs[id] then missing[#missing + 1] = id end
    end
    if #missing > 0 then
      local found = redis.call('HMGET', K.j, unpack(missing))
      for k, id in ipairs(missing) do recs[id] = found[k] or nil end
    end
    for i, id in ipairs(ids) do
      local raw = recs[id]
      if raw and from[id] then
        local b = from[id]
        if not unbucket[b] then unbucket[b] = {}; buckets[#buckets + 1] = b end
        local u = unbucket[b]
        u[#u + 1] = id
      end
      if raw and string.byte(raw, 1) == 10 then
        -- A never-claimed job with an empty state (most jobs): write its state directly, as
        -- cjson would, without building and re-encoding a table. (Never in :a: it was neither
        -- promoted nor requeued.)
        got = got + 1
        local q = popped[2 * i]
        local tail_only = raw
        raw = '{"st":"r","a":1,"tk":"' .. token_base .. got .. '","w":' .. worker_json .. ',"sa":"' ..
              now .. '","lu":"' .. lease_until .. '","q":"' .. q .. '","n":' ..
              string.format('%d', tonumber(q) % BAND) .. '}' .. raw
        out[#out + 1] = id
        out[#out + 1] = tail_only  -- the reply leaves the state out: the caller knows it
        hset[#hset + 1] = id
        hset[#hset + 1] = raw
        zadd[#zadd + 1] = lease_until
        zadd[#zadd + 1] = id
        raw = nil
      end
      local rec, st, tail = decode(raw)
      if rec and not st then
        bury(id, 'corrupt: ' .. tail, now)  -- moves the evidence out of its bucket itself
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
      end
    end
  end
  for _, b in ipairs(buckets) do redis.call('HDEL', b, unpack(unbucket[b])) end
  if got > 0 then
    redis.call('HSET', K.j, unpack(hset))
    redis.call('ZADD', K.r, unpack(zadd))
    if #zrem_ready > 0 and redis.call('EXISTS', K.a) == 1 then redis.call('ZREM', K.a, unpack(zrem_ready)) end
  end
  return out
end
