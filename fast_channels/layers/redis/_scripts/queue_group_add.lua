-- fast-channels queue layer: add (or refresh) one group membership.
--
-- KEYS[1]  the group's sorted set (member channel -> time it was added, in ms)
-- KEYS[2]  the group's capacity overrides (hash channel -> capacity)
-- KEYS[3]  the group's members by receiving process, in 16 buckets so that an add
--          copies a short string (hash "<token>,<bucket>" -> ",a,b,c"; named channels
--          under ",<bucket>"; bucket = last byte of the channel name % 16)
-- ARGV[1]  now, in ms since the epoch
-- ARGV[2]  the channel
-- ARGV[3]  the group expiry in seconds (TTL of the keys)
-- ARGV[4]  the channel's capacity if it differs from the layer default, else ''
-- ARGV[5]  the channel's field in KEYS[3] (see above)

if redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  local joined = redis.call('HGET', KEYS[3], ARGV[5])
  redis.call('HSET', KEYS[3], ARGV[5], (joined or '') .. ',' .. ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
