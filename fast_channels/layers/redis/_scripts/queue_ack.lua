-- fast-channels queue layer: a receiving process corrects its per-channel counters.
--
-- KEYS[1]  the process's per-channel counter hash (see queue_send.lua)
-- ARGV[1]  TTL of the hash in seconds (the layer's expiry)
-- ARGV     then channel, count, channel, count, ...
--
-- Each channel's counter goes down by its count: messages handed out or dropped. A negative
-- count raises it: group messages waiting in a local mailbox (group_send does not count
-- them; the receiving process does, lazily). A counter at zero or below is deleted, so the
-- hash holds only channels with messages.

local raised = false
for i = 2, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    raised = true
  end
end
if raised then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1
