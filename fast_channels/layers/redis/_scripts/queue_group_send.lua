-- fast-channels queue layer: send one message to the members of a group kept on this server.
--
-- KEYS[1]  the group's sorted set (member channel -> time it was added, in ms)
-- KEYS[2]  the group's capacity overrides (hash channel -> capacity; may not exist)
-- ARGV[1]  memberships added before this time (ms) have expired and are removed
-- ARGV[2]  default capacity
-- ARGV[3]  key prefix ("<layer prefix>:")
-- ARGV[4]  now, in ms since the epoch
-- ARGV[5]  the message deadline as 13 digits (ms)
-- ARGV[6]  the encoded message
-- ARGV[7]  TTL of message keys in seconds (the layer's expiry)
-- ARGV[8]  length of the process token that ends a process-local channel's name before '!'
--
-- Process-local members ("...<token>!<random>") are grouped by process: each receiving
-- process gets ONE inbox entry naming its members (",a,b,c": the leading comma marks a group
-- entry), so the work here grows with the number of processes, not members; the receiving
-- process skips (and counts) members whose channel is full. Named members get one list
-- entry each, unless full. Returns {entries pushed, named members skipped because full}.

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if #members == 0 then return {0, 0} end

local prefix, deadline, payload = ARGV[3], ARGV[5], ARGV[6]
local ttl, token_length = ARGV[7], tonumber(ARGV[8])
local by_token, tokens = {}, {}
local pushed, skipped = 0, 0
local caps

for _, member in ipairs(members) do
  local bang = string.find(member, '!', 1, true)
  if bang then
    local token = string.sub(member, bang - token_length, bang - 1)
    local list = by_token[token]
    if list then
      list[#list + 1] = member
    else
      by_token[token] = {'', member}
      tokens[#tokens + 1] = token
    end
  else
    if not caps then
      caps = {}
      local flat = redis.call('HGETALL', KEYS[2])
      for i = 1, #flat, 2 do caps[flat[i]] = tonumber(flat[i + 1]) end
    end
    local capacity = caps[member] or tonumber(ARGV[2])
    local key = prefix .. 'q:' .. member
    if redis.call('LLEN', key) >= capacity then
      local now = tonumber(ARGV[4])
      while true do
        local head = redis.call('LINDEX', key, 0)
        if not head or tonumber(string.sub(head, 1, 13)) > now then break end
        redis.call('LPOP', key)
      end
    end
    if redis.call('LLEN', key) >= capacity then
      skipped = skipped + 1
    else
      redis.call('RPUSH', key, deadline .. payload)
      redis.call('EXPIRE', key, ttl)
      pushed = pushed + 1
    end
  end
end

for _, token in ipairs(tokens) do
  local inbox = prefix .. 'in:' .. token
  redis.call('RPUSH', inbox, deadline .. table.concat(by_token[token], ',') .. '\0' .. payload)
  redis.call('EXPIRE', inbox, ttl)
  pushed = pushed + 1
end
return {pushed, skipped}
