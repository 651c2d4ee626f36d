-- Only ever extend a block: a short Retry-After must not cut a longer one.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local untilts = tonumber(ARGV[1])
if untilts > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
end
return 1
