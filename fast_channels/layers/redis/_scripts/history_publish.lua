-- fast-channels pub/sub layer: the delivery of a kept group message (wrapped by history_send.lua).
--
-- ARGV[1]  the group's pub/sub channel
-- ARGV[2]  the message, framed with its position
--
-- Returns how many subscribers received it.

return redis.call('PUBLISH', ARGV[1], ARGV[2])
