-- HSET only when the feed hash still exists: a feed removed while it was being
-- polled must not come back as a partial hash.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV))
  return 1
end
return 0
