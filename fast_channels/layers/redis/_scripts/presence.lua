-- fast-channels: one group's presence: join, leave, renew this process's leases, or list.
--
-- KEYS[1]  the group's present members: hash channel -> encoded info
-- KEYS[2]  their leases: sorted set channel -> deadline (ms, Redis's clock)
-- ARGV[1]  'join', 'renew', 'leave' or 'list'
-- ARGV[2]  the lease in ms (join, renew)
-- ARGV[3]  TTL of both keys in ms (join, renew): a group whose processes all died goes
-- ARGV[4..] join/renew: channel, info, channel, info, ...; leave: channels
--
-- Every call first removes the members whose lease ran out (at most 1000 per call) and
-- returns them: {{channel, info, ...} gone, then:
--   join/renew: {channel, info, ...} of members that were not present before (for renew:
--               lost meanwhile, e.g. Redis restarted or the lease ran out, and added again);
--   leave:      {channel, info, ...} of members that were present;
--   list:       {channel, info, ...} of every present member}.

local infos, leases = KEYS[1], KEYS[2]
local op = ARGV[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local gone = {}
local lapsed = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 1000)
if #lapsed > 0 then
  local held = redis.call('HMGET', infos, unpack(lapsed))
  for i, channel in ipairs(lapsed) do
    gone[#gone + 1] = channel
    gone[#gone + 1] = held[i] or ''
  end
  redis.call('ZREM', leases, unpack(lapsed))
  redis.call('HDEL', infos, unpack(lapsed))
end

if op == 'list' then
  return {gone, redis.call('HGETALL', infos)}
end

local changed = {}
if op == 'leave' then
  for i = 4, #ARGV do
    local channel = ARGV[i]
    if redis.call('ZREM', leases, channel) == 1 then
      changed[#changed + 1] = channel
      changed[#changed + 1] = redis.call('HGET', infos, channel) or ''
      redis.call('HDEL', infos, channel)
    end
  end
  return {gone, changed}
end

local deadline = now + tonumber(ARGV[2])
for i = 4, #ARGV, 2 do
  local channel, info = ARGV[i], ARGV[i + 1]
  local added = redis.call('ZADD', leases, deadline, channel)
  if added == 1 or op == 'join' then
    redis.call('HSET', infos, channel, info)
  end
  if added == 1 then
    changed[#changed + 1] = channel
    changed[#changed + 1] = info
  end
end
redis.call('PEXPIRE', infos, ARGV[3])
redis.call('PEXPIRE', leases, ARGV[3])
return {gone, changed}
