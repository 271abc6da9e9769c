-- fast-channels, wire_format="channels_redis": the current members of a group.
--
-- KEYS[1]  the group's sorted set, <prefix>:group:<group>
-- ARGV[1]  members added at or before this time (now - group_expiry) have expired:
--          they are removed first
--
-- Returns the members' channel names.

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
