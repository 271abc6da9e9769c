-- fast-channels: read a group's history (what a receiver missed), or only where it ends.
--
-- KEYS[1]  the group's history stream (field = offset, value = message)
-- KEYS[2]  the group's history hash: 'e' its epoch, 'n' its last offset
-- ARGV[1]  history_ttl in ms (older entries are trimmed first, so none is returned)
-- ARGV[2]  TTL of the history hash in seconds
-- ARGV[3]  a random salt of the calling process, for a new epoch
-- ARGV[4]  'position' (where it ends), 'all' (every kept entry) or 'since'
-- ARGV[5]  with 'since': the epoch the receiver knows
-- ARGV[6]  with 'since': the last offset it received
--
-- Returns {epoch, last offset, reachable (1/0), entries newest first}: with 'since', the
-- entries after that offset if the epoch is the same and the stream still holds all of
-- them, else reachable 0 and no entries.

local stream, meta = KEYS[1], KEYS[2]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = string.format('%x%05x', tonumber(time[1]), tonumber(time[2])) .. ARGV[3]
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'e', epoch, 'n', 0)
end
redis.call('EXPIRE', meta, ARGV[2])
redis.call('XTRIM', stream, 'MINID', string.format('%d', math.max(0, now - tonumber(ARGV[1]))))
local last = tonumber(redis.call('HGET', meta, 'n'))
local mode = ARGV[4]
if mode == 'position' then
  return {epoch, last, 1}
end
if mode == 'all' then
  return {epoch, last, 1, redis.call('XREVRANGE', stream, '+', '-')}
end
if ARGV[5] ~= epoch then
  return {epoch, last, 0}
end
local missed = last - tonumber(ARGV[6])
if missed < 0 or missed > redis.call('XLEN', stream) then
  return {epoch, last, 0}
end
if missed == 0 then
  return {epoch, last, 1, {}}
end
return {epoch, last, 1, redis.call('XREVRANGE', stream, '+', '-', 'COUNT', missed)}
