-- fast-channels: keep one group message in the group's history and deliver it, in one script.
--
-- This file wraps a delivery script (the pub/sub layer's PUBLISH, the queue layer's
-- queue_group_send.lua): its source replaces the DELIVERY line below, and it runs as a
-- function that sees only its own KEYS and ARGV, its message already framed with the
-- position: '\193' epoch ':' offset ':' group '\193' message. Both happen atomically, so
-- members receive kept messages in offset order.
--
-- KEYS[1]  the group's history stream (one entry per message: field = offset, value = message)
-- KEYS[2]  the group's history hash: 'e' its epoch, 'n' its last offset
-- KEYS[3..] the delivery's keys
-- ARGV[1]  history_size (the stream is trimmed to exactly this length)
-- ARGV[2]  history_ttl in ms (older entries are trimmed; the stream expires after it)
-- ARGV[3]  TTL of the history hash in seconds (how long an idle group keeps its epoch)
-- ARGV[4]  a random salt of the calling process, for a new epoch
-- ARGV[5]  the group's name
-- ARGV[6]  the index of the message among the delivery's ARGV
-- ARGV[7..] the delivery's arguments
--
-- Returns {the delivery's reply, epoch, offset}.

local kept = {}
do
  local stream = table.remove(KEYS, 1)
  local meta = table.remove(KEYS, 1)
  local size = table.remove(ARGV, 1)
  local ttl = tonumber(table.remove(ARGV, 1))
  local meta_ttl = table.remove(ARGV, 1)
  local salt = table.remove(ARGV, 1)
  local group = table.remove(ARGV, 1)
  local at = tonumber(table.remove(ARGV, 1))
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    -- A new history (first message, or the old one was lost): no entry of another epoch stays.
    epoch = string.format('%x%05x', tonumber(time[1]), tonumber(time[2])) .. salt
    redis.call('DEL', stream)
    redis.call('HSET', meta, 'e', epoch, 'n', 0)
  end
  local offset = redis.call('HINCRBY', meta, 'n', 1)
  local message = ARGV[at]
  redis.call('XADD', stream, 'MAXLEN', size, '*', offset, message)
  redis.call('XTRIM', stream, 'MINID', string.format('%d', math.max(0, now - ttl)))
  redis.call('PEXPIRE', stream, ttl)
  redis.call('EXPIRE', meta, meta_ttl)
  ARGV[at] = '\193' .. epoch .. ':' .. offset .. ':' .. group .. '\193' .. message
  kept.epoch = epoch
  kept.offset = offset
end

local function deliver()
--[[DELIVERY]]
end

return {deliver(), kept.epoch, kept.offset}
