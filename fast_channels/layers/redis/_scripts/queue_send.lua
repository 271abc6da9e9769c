-- fast-channels queue layer: queue one message for a process-local channel (one round trip).
--
-- KEYS[1]  the receiving process's inbox (a list)
-- KEYS[2]  the receiving process's per-channel counter hash
-- ARGV[1]  the channel
-- ARGV[2]  the channel's capacity
-- ARGV[3]  the entry to push (13-digit deadline in ms, the channel, NUL, the message)
-- ARGV[4]  TTL of the keys in seconds (the layer's expiry plus its refresh interval)
-- ARGV[5]  '1' if the sender has not set the TTLs of this inbox within the refresh interval
--
-- The counter counts the channel's direct messages queued and not yet handed to a receiver
-- (the receiving process lowers it, and raises it for group messages piling up in its
-- mailbox: see _acks.py). TTLs of the inbox and its counter hash are set when the key is
-- created (a counter at 1 may be a new hash; every script that creates a key sets its
-- TTL) and when ARGV[5] asks: a sender refreshes them at least once per refresh interval,
-- and every TTL outlasts it by that interval, so a key never expires before a message it
-- holds does.
-- Returns 1 if the entry was queued, 0 if the channel is full.

local count = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if count > tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
  return 0
end
local refresh = ARGV[5] == '1'
if refresh or count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
if redis.call('RPUSH', KEYS[1], ARGV[3]) == 1 or refresh then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return 1
