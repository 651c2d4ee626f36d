-- Keep the entries a deliverer is still working on (sending, or waiting to
-- retry) from being reclaimed by another deliverer: XCLAIM with JUSTID resets
-- their idle time. Only entries this consumer still owns are touched, so an
-- entry another consumer has meanwhile reclaimed is not taken back.
-- KEYS[1]: an output's queue stream.
-- ARGV[1]: the group, ARGV[2]: this consumer, ARGV[3..]: entry ids.
-- Returns how many entries this consumer still holds.
local held = 0
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    held = held + 1
  end
end
return held
