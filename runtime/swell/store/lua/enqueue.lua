-- enqueue.lua: store new jobs of one queue (pending, or scheduled when run_at is in the future).
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, s, j, m, u)
-- ARGV:  [1] the priority digit (0..3) of each job, one character per job: n = #ARGV[1]
--        [2] '' when no job of the call has a run_at, a unique key or a tenant (the common
--            case: no JSON to decode), else a JSON array of one [run_at ('' = ready now),
--            unique_key ('' = none), tenant ('' = none)] per job
--        [3 .. 2+n] the ids, [3+n .. 2+2n] the records, in the same order
-- Returns: a flat list {i, id, record, ...} of the jobs NOT stored (i = their 1-based place in
--          the call), each with the existing job: the job with this id when it already exists
--          (idempotent retries), or the non-terminal job holding its unique key. An empty list
--          when every job was stored (the common reply costs nothing to build or parse).
-- Cost per plain job (ready, no unique key, short record): one HSETNX in its fresh bucket,
-- which both stores the record and detects an id already waiting there; ids taken in :j are
-- read by one HMGET for the call, the pending-set entries go in one ZADD at the end.
local prios, opts = ARGV[1], ARGV[2]
local n = #prios
if opts ~= '' then opts = cjson.decode(opts) else opts = nil end
-- Idle workers wait only while the queue is empty: wake them when it stops being empty (not for
-- every job of a busy queue, which would cost every worker a message per enqueue).
local was_empty = redis.call('ZCARD', K.p) == 0
-- FIFO sequence: n numbers reserved at once, given to the stored jobs in order, the unused
-- ones (jobs that already existed) given back at the end: the numbering of one HINCRBY per
-- stored job (the script is atomic), in one call when every job is new.
local last_seq = redis.call('HINCRBY', K.m, 'seq', n)
local first_seq = last_seq - n
local seq = first_seq
-- The records these ids already have in :j (claimed, finished, scheduled or long jobs), read
-- in one HMGET per 1,000 ids instead of one HGET per job; `written` adds the ones this call
-- puts in :j itself (an id given twice in one call).
local in_j = {}
for k = 1, n, 1000 do
  local recs = redis.call('HMGET', K.j, unpack(ARGV, 2 + k, 2 + math.min(k + 999, n)))
  for m = 1, #recs do in_j[k + m - 1] = recs[m] end
end
local written = {}
local out = {}
local zadd = {}
for i = 1, n do
  local id, rec = ARGV[2 + i], ARGV[2 + n + i]
  local run_at, uk, tn = '', '', ''
  if opts then
    local o = opts[i]
    run_at, uk, tn = o[1], o[2], o[3]
  end
  local fresh = run_at == '' and #rec <= FRESH_MAX and string.byte(rec, 1) == 10
  local stored = false
  local held_id, held = nil, in_j[i] or written[id]
  if held then
    held_id = id
  elseif fresh and uk == '' then
    -- store it now, or learn that the id is already waiting in its bucket
    if redis.call('HSETNX', bucket(id), id, rec) == 1 then
      stored = true
    else
      held_id, held = id, redis.call('HGET', bucket(id), id)
    end
  else
    held = redis.call('HGET', bucket(id), id)
    if held then held_id = id end
  end
  if not held_id and uk ~= '' then
    local holder = redis.call('HGET', K.u, uk)
    if holder then
      local hrec, hst = load(holder)
      if hrec and hst and not TERMINAL[status(hst)] then held_id, held = holder, hrec end
    end
  end
  if held_id then
    out[#out + 1] = i
    out[#out + 1] = held_id
    out[#out + 1] = held
  else
    seq = seq + 1
    if not stored then
      -- The enqueue order (st.n) sorts queries like the MemoryStore. A pending job keeps it in
      -- its pending score until claimed; a scheduled one writes it now, and st.o = the order it
      -- became scheduled, so jobs due at the same instant are promoted in that order.
      if run_at ~= '' then
        local _, st, tail = decode(rec)
        st.o = seq
        st.n = seq
        rec = cjson.encode(st) .. tail
      end
      if fresh then
        redis.call('HSET', bucket(id), id, rec)  -- fresh: empty state line
      else
        redis.call('HSET', K.j, id, rec)
        written[id] = rec
      end
      if uk ~= '' then redis.call('HSET', K.u, uk, id) end
    end
    if run_at ~= '' then
      redis.call('ZADD', K.s, run_at, id)
    else
      zadd[#zadd + 1] = (string.byte(prios, i) - 48) * BAND + seq
      zadd[#zadd + 1] = id
      if tn ~= '' then redis.call('HINCRBY', K.m, 'tp:' .. tn, 1) end
    end
  end
end
-- The pending entries, a few thousand arguments per ZADD at most (Lua's unpack() limit).
for k = 1, #zadd, 4000 do
  redis.call('ZADD', K.p, unpack(zadd, k, math.min(k + 3999, #zadd)))
end
if seq < last_seq then redis.call('HINCRBY', K.m, 'seq', seq - last_seq) end
if seq > first_seq then
  redis.call('HINCRBY', K.m, 'enqueued', seq - first_seq)
end
if was_empty and #zadd > 0 then wake() end
return out
