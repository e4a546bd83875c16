-- settle_claim.lua: a worker's loop turn in one round trip: apply the outcomes of finished
-- attempts (settling.lua), then claim up to n more jobs of the same queue (claiming.lua).
-- uses: settling claiming
-- KEYS:  the queue's key base "<prefix>:{queue}:"
-- ARGV:  1-7 as settle.lua (the outcomes may be an empty array), then n, lease_until,
--        worker_id, token_base, promote_limit as claim.lua (now is shared)
-- Returns: {settle.lua's reply, claim.lua's reply}
local batch = cjson.decode(ARGV[7])
local settled = {}
if #batch > 0 then
  settled = settle_batch(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], batch, cjson.encode(ARGV[10]))
end
return {settled, claim_jobs(ARGV[1], tonumber(ARGV[8]), ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12]))}
