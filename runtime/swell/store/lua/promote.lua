-- promote.lua: move scheduled/retrying jobs whose run_at has come to pending.
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, s, j, d, m, b)
-- ARGV:  now, limit
-- Returns: how many jobs were promoted (or dead-lettered as corrupt)
return promote(ARGV[1], tonumber(ARGV[2]))
