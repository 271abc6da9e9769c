-- fast-channels, wire_format="channels_redis": queue one message in channels_redis 4.x's
-- layout (one round trip; see _channels_redis.py).
--
-- KEYS[1]  the channel's sorted set: <prefix><name>, or <prefix><head>! shared by the
--          channels <head>!... of one process
-- ARGV[1]  the score: the time sent, in seconds since the epoch
-- ARGV[2]  members scored at or below this were sent more than `expiry` ago: dropped first
-- ARGV[3]  the capacity: how many members the set may hold
-- ARGV[4]  the member: random bytes, then the encoded message
-- ARGV[5]  seconds the set lives after this message (the layer's expiry)
--
-- Returns 1 if the message was queued, 0 if the set is full.

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
