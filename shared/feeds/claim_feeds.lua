-- Claim due feeds atomically, returning each claimed feed's hash ({id, fields, ...}),
-- so a poller needs one round trip per batch instead of two. KEYS[1] schedule;
-- ARGV: now, limit, lease_until, feed key prefix.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[3], id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGETALL', ARGV[4] .. id)
end
return out
