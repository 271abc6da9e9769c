-- fast-channels queue layer: remove one group membership (a no-op if there is none).
--
-- KEYS[1]  the group's sorted set, KEYS[2] the group's capacity overrides
-- ARGV[1]  the channel

redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
