-- Move a feed to a new URL unless that URL already belongs to another feed.
-- KEYS: feed-by-url, feed hash. ARGV: feed id, old url, new url.
local other = redis.call('HGET', KEYS[1], ARGV[3])
if other and other ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], 'url', ARGV[3])
return 1
