-- fast-channels queue layer: queue one message for one channel (one round trip per send).
--
-- KEYS[1]  the list that receives the entry: a process inbox, or a named channel's list
-- KEYS[2]  the receiving process's per-channel counter hash (process-local channels only)
-- ARGV[1]  the channel name when KEYS[1] is an inbox; '' for a named channel's list
-- ARGV[2]  the channel's capacity
-- ARGV[3]  the entry to push (13-digit deadline in ms, then the rest)
-- ARGV[4]  TTL of the keys in seconds (the layer's expiry plus its refresh interval)
-- ARGV[5]  now, in ms since the epoch (to drop expired entries of a full named list)
-- ARGV[6]  '1' if the sender has not set the TTLs of this inbox within the refresh interval
--
-- TTLs of an inbox and its counter hash are set when the key is created (every script
-- that creates one sets its TTL) and when ARGV[6] asks: a sender refreshes them at least
-- once per refresh interval, and every TTL outlasts it by that interval, so a key never
-- expires before a message it holds does.
-- Capacity is per channel. For a process-local channel the counter counts messages queued
-- for it and not yet handed to a receiver (the receiving process decrements it). For a named
-- channel it is the list length, after dropping expired entries at its head.
-- Returns 1 if the entry was queued, 0 if the channel is full.

local capacity = tonumber(ARGV[2])
if ARGV[1] ~= '' then
  local count = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  if count > capacity then
    redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
    return 0
  end
  local refresh = ARGV[6] == '1'
  if refresh or count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
  if redis.call('RPUSH', KEYS[1], ARGV[3]) == 1 or refresh then
    redis.call('EXPIRE', KEYS[1], ARGV[4])
  end
  return 1
elseif redis.call('LLEN', KEYS[1]) >= capacity then
  local now = tonumber(ARGV[5])
  while true do
    local head = redis.call('LINDEX', KEYS[1], 0)
    if not head or tonumber(string.sub(head, 1, 13)) > now then break end
    redis.call('LPOP', KEYS[1])
  end
  if redis.call('LLEN', KEYS[1]) >= capacity then return 0 end
end
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
