-- claim.lua: claim up to n ready jobs of one queue (see claiming.lua).
-- uses: claiming
-- KEYS:  the queue's key base "<prefix>:{queue}:" (uses p, s, r, j, d, m, k, b, a, f)
-- ARGV:  now, n (at most 1000), lease_until, worker_id, token_base, promote_limit
-- Returns: flat list id1, record1, id2, record2, ... of the claimed jobs, in claim order
--          (a record with an empty state line: see claiming.lua)
return claim_jobs(ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]))
