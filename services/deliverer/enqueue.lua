-- Queue a committed event for an output, only while the output exists: the
-- router's list of outputs can be a batch old, and an output removed meanwhile
-- must not get its queue back as a stream nobody reads.
-- KEYS[1]: the output's hash, KEYS[2]: its queue stream.
-- ARGV[1]: the stream entry's data field, ARGV[2]: the event (JSON).
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('XADD', KEYS[2], '*', ARGV[1], ARGV[2])
  return 1
end
return 0
