-- Claim due retry jobs of deferred article pages, like the feed schedule's
-- claim: each due member's score moves to the lease expiry, so no two parser
-- replicas take the same page and a crashed replica's jobs come due again.
-- KEYS[1]: the queue (zset member -> due time).
-- ARGV: now, limit, lease_until, job key prefix.
-- Returns {member, job or false, ...}; a member whose job is gone is left for
-- the caller to drop.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[3], member)
  out[#out + 1] = member
  out[#out + 1] = redis.call('GET', ARGV[4] .. member)
end
return out
