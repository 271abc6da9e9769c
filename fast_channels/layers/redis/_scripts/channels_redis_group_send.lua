-- fast-channels, wire_format="channels_redis": queue a group message for the members on
-- one Redis server, one member per sorted set (channels_redis 4.x's layout).
--
-- KEYS     the members' sorted sets on this server (see channels_redis_send.lua)
-- ARGV[1]  the score: the time sent, in seconds since the epoch
-- ARGV[2]  members scored at or below this have expired: dropped first
-- ARGV[3]  seconds each set lives after this message (the layer's expiry)
-- ARGV[4 + 2i], ARGV[5 + 2i]  the capacity of KEYS[i + 1], and the member to add to it
--
-- Returns the positions (1-based) in KEYS of the sets that were full: skipped.

local full = {}
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[2])
  if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[2 + 2 * i]) then
    redis.call('ZADD', KEYS[i], ARGV[1], ARGV[3 + 2 * i])
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  else
    full[#full + 1] = i
  end
end
return full
