-- fast-channels queue layer: remove one group membership (a no-op if there is none).
--
-- KEYS[1]  the group's sorted set, KEYS[2] the group's capacity overrides,
-- KEYS[3]  the group's members by receiving process (see queue_group_add.lua)
-- ARGV[1]  the channel
-- ARGV[2]  the channel's field in KEYS[3] (see queue_group_add.lua)

if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  local joined = redis.call('HGET', KEYS[3], ARGV[2])
  if joined then
    local padded = joined .. ','
    local first, last = string.find(padded, ',' .. ARGV[1] .. ',', 1, true)
    if first then
      local rest = string.sub(padded, 1, first - 1) .. string.sub(padded, last, -2)
      if rest == '' then
        redis.call('HDEL', KEYS[3], ARGV[2])
      else
        redis.call('HSET', KEYS[3], ARGV[2], rest)
      end
    end
  end
end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
