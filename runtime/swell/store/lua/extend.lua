-- extend.lua: renew the leases of jobs a worker holds, and report lost ones and cancel requests.
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses r, j, k)
-- ARGV:  now, lease_until, then pairs: id, token
-- Returns: {extended ids}, {lost ids}, {cancel-requested ids (among the extended)}
local lease_until = ARGV[2]
local extended, lost, cancel = {}, {}, {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local rec, st, tail = load(id)
  if rec and st and status(st) == 'r' and st.tk == token then
    st.lu = lease_until
    save(id, st, tail)
    redis.call('ZADD', K.r, lease_until, id)
    extended[#extended + 1] = id
    if redis.call('SISMEMBER', K.k, id) == 1 then cancel[#cancel + 1] = id end
  else
    lost[#lost + 1] = id
  end
end
return {extended, lost, cancel}
