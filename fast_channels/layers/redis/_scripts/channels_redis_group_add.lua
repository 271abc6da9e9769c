-- fast-channels, wire_format="channels_redis": add a channel to a group (or renew it).
--
-- KEYS[1]  the group's sorted set, <prefix>:group:<group>
-- ARGV[1]  the score: now, in seconds since the epoch
-- ARGV[2]  the channel
-- ARGV[3]  seconds the group lives after this (the layer's group_expiry)

redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
