-- fast-channels queue layer: queue one message for a named channel (one round trip).
--
-- KEYS[1]  the channel's list, shared by every receiving process
-- ARGV[1]  the channel's capacity
-- ARGV[2]  the entry to push (13-digit deadline in ms, then the message)
-- ARGV[3]  TTL of the list in seconds (the layer's expiry plus its refresh interval)
-- ARGV[4]  now, in ms since the epoch
--
-- Capacity is the list length, after dropping expired entries at its head when it looks
-- full. Returns 2 * (expired entries dropped) + 1 if the entry was queued, 2 * (expired
-- entries dropped) if the channel is full: the sender counts the drops as expired.

local capacity = tonumber(ARGV[1])
local dropped = 0
if redis.call('LLEN', KEYS[1]) >= capacity then
  local now = tonumber(ARGV[4])
  while true do
    local head = redis.call('LINDEX', KEYS[1], 0)
    if not head or tonumber(string.sub(head, 1, 13)) > now then break end
    redis.call('LPOP', KEYS[1])
    dropped = dropped + 1
  end
  if redis.call('LLEN', KEYS[1]) >= capacity then return 2 * dropped end
end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 2 * dropped + 1
