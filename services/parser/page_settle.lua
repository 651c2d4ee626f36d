-- Settle a claimed retry job of a deferred article page, only if the job is
-- still the one claimed: a newer version of the entry, handled meanwhile,
-- replaced or removed it and has the last word.
-- KEYS: queue (zset), job key, parsed stream, page state key.
-- ARGV: member, claimed job, 'again' | 'done', then
--   again: new job, its due time, job ttl (s);
--   done:  event payload ('' = none), data field, page state ('' = none), state ttl (s).
-- A member claimed without a job (it expired) is claimed as '' and dropped.
-- Returns 1 when settled, 0 when the job had changed (nothing written).
local current = redis.call('GET', KEYS[2])
if current == false then current = '' end
if current ~= ARGV[2] then
  return 0
end
if ARGV[3] == 'again' then
  redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[6])
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
  return 1
end
if ARGV[4] ~= '' then
  redis.call('XADD', KEYS[3], '*', ARGV[5], ARGV[4])
end
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[7])
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
