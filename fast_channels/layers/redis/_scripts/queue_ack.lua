-- fast-channels queue layer: a receiving process reports messages it handed out or dropped.
--
-- KEYS[1]  the process's per-channel counter hash (see queue_send.lua)
-- ARGV     channel, count, channel, count, ...
--
-- Each channel's counter goes down by its count; a counter at zero (or below, after the
-- hash expired and came back) is deleted, so the hash holds only channels with messages.

for i = 1, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 1
