-- Record the delivery state of an output, only while the output exists: a
-- deliverer finishing a batch after `feedpipe outputs remove` must not bring
-- the output back as a partial hash.
-- KEYS[1]: the output's hash.
-- ARGV: n_set, n_setnx, then n_set field/value pairs to HSET, n_setnx pairs to
-- HSETNX, and the rest field/increment pairs to HINCRBY.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local n_set = tonumber(ARGV[1])
local n_setnx = tonumber(ARGV[2])
local i = 3
for _ = 1, n_set do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, n_setnx do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return 1
