-- replay.lua: move dead jobs back to pending with attempts and redeliveries reset.
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, j, d, m, u, b)
-- ARGV:  now, mode, then for mode 'one': id; for mode 'oldest': limit
-- Returns: mode 'one': {code, record}, code 'replayed', 'missing', 'corrupt' or the status code
--          the job is in (not dead); mode 'oldest': the number of jobs replayed (corrupt records
--          stay dead)
local now = ARGV[1]

local function replay(id)
  local rec, st, tail = load(id)
  if not rec then return 'missing', '' end
  if not st then return 'corrupt', rec end
  if status(st) ~= 'f' then return status(st), rec end
  redis.call('ZREM', K.d, id)
  for _, f in ipairs({'st', 'a', 'rd', 'dr', 'fa', 'tk', 'lu', 'w', 'cr', 'ra', 'q'}) do st[f] = nil end
  st.ps = now  -- ready since now, placed at the back: in place order (see stats.lua)
  if st.uk and not redis.call('HGET', K.u, st.uk) then redis.call('HSET', K.u, st.uk, id) end
  tenant_move(st, 'f', 'p')
  push_pending(id, st)
  return 'replayed', save(id, st, tail)
end

if ARGV[2] == 'one' then
  local code, rec = replay(ARGV[3])
  return {code, rec}
end
local n = 0
for _, id in ipairs(redis.call('ZRANGE', K.d, 0, tonumber(ARGV[3]) - 1)) do
  if replay(id) == 'replayed' then n = n + 1 end
end
return n
