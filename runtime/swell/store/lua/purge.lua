-- purge.lua: delete terminal jobs (completed 'c', failed 'f', cancelled 'x') finished at or
-- before a cutoff, in chunks.
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses c, x, d, j, b)
-- ARGV:  cutoff, limit, then status codes among c, f, x
-- Returns: how many jobs were deleted (call again while it returns limit)
local cutoff, limit = ARGV[1], tonumber(ARGV[2])
local sets = {c = K.c, f = K.d, x = K.x}
local n = 0
for i = 3, #ARGV do
  local zkey = sets[ARGV[i]]
  if zkey and n < limit then
    local ids = finished_before(zkey, cutoff, true, limit - n)
    drop(zkey, ids)
    n = n + #ids
  end
end
return n
