-- occurrence.lua: claim a cron occurrence exactly once within ttl, by the store's clock.
-- (A plain SET NX PX would follow Redis' clock; the stored expiry follows the injected one,
-- and PX still lets Redis forget the key once it is over.)
-- KEYS:  the occurrence key (global, outside any queue slot; the only key touched)
-- ARGV:  now, expires_at, ttl in milliseconds
-- Returns: 1 for the one caller that claimed it, 0 for everyone else
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) and tonumber(held) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
