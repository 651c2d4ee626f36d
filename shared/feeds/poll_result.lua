-- One poll's outcome in one atomic call:
-- 1. if the feed still exists: publish the fetched document (XADD) and write
--    the state fields -- together, so the parser can never record a parse error
--    for the new document before the poller marks it fetched;
-- 2. with keep_parse_error, a feed the parser marked broken keeps its status
--    and error (a 304 / same-hash body is still the broken document);
-- 3. move the schedule entry if the caller still holds the lease.
-- KEYS: feed hash, schedule, fetched stream.
-- ARGV: feed id, lease_until, next_poll_at, keep_parse_error (0/1), payload
-- ('' = nothing to publish), data field name, then field/value pairs.
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[5] ~= '' then
    redis.call('XADD', KEYS[3], '*', ARGV[6], ARGV[5])
  end
  local keep = ARGV[4] == '1' and redis.call('HGET', KEYS[1], 'last_status') == 'parse_error'
  local fields = {}
  for i = 7, #ARGV, 2 do
    local k = ARGV[i]
    if not (keep and (k == 'last_status' or k == 'last_error' or k == 'error_count'
                      or k == 'last_ok_at')) then
      fields[#fields + 1] = k
      fields[#fields + 1] = ARGV[i + 1]
    end
  end
  if #fields > 0 then
    redis.call('HSET', KEYS[1], unpack(fields))
  end
end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  return 1
end
return 0
