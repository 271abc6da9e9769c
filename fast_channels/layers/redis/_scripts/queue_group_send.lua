-- fast-channels queue layer: send one message to the members of a group kept on this server.
--
-- KEYS[1]  the group's sorted set (member channel -> time it was added, in ms)
-- KEYS[2]  the group's capacity overrides (hash channel -> capacity; may not exist)
-- KEYS[3]  the group's members by receiving process (hash "<token>,<bucket>" -> ",a,b,c";
--          named channels under ",<bucket>"), kept by queue_group_add/discard.lua
-- ARGV[1]  memberships added before this time (ms) have expired and are removed
-- ARGV[2]  default capacity
-- ARGV[3]  key prefix ("<layer prefix>:")
-- ARGV[4]  now, in ms since the epoch
-- ARGV[5]  the message deadline as 13 digits (ms)
-- ARGV[6]  the encoded message
-- ARGV[7]  TTL of message keys in seconds (the layer's expiry)
-- ARGV[8]  length of the process token that ends a process-local channel's name before '!'
--
-- Each receiving process gets ONE inbox entry naming its members (",a,b,c": the leading
-- comma marks a group entry), read as at most 16 strings from KEYS[3], so the work grows with
-- the number of processes, not members; the receiving process skips (and counts) members
-- whose channel is full. Named members get one list entry each, unless full.
-- Returns {entries pushed, named members skipped because full}.

local cutoff = '(' .. ARGV[1]
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  local token_length = tonumber(ARGV[8])
  for _, member in ipairs(expired) do
    local bang = string.find(member, '!', 1, true)
    local token = ''
    if bang then token = string.sub(member, math.max(1, bang - token_length), bang - 1) end
    local field = token .. ',' .. (string.byte(member, -1) % 16)
    local joined = redis.call('HGET', KEYS[3], field)
    if joined then
      local padded = joined .. ','
      local first, last = string.find(padded, ',' .. member .. ',', 1, true)
      if first then
        local rest = string.sub(padded, 1, first - 1) .. string.sub(padded, last, -2)
        if rest == '' then
          redis.call('HDEL', KEYS[3], field)
        else
          redis.call('HSET', KEYS[3], field, rest)
        end
      end
    end
    redis.call('HDEL', KEYS[2], member)
  end
end

local fields = redis.call('HGETALL', KEYS[3])
if #fields == 0 then return {0, 0} end

local prefix, deadline, payload, ttl = ARGV[3], ARGV[5], ARGV[6], ARGV[7]
local pushed, skipped = 0, 0
local by_token, tokens = {}, {}

for i = 1, #fields, 2 do
  local token = string.match(fields[i], '^(.*),%d+$')
  if token == '' then
    local caps = {}
    local flat = redis.call('HGETALL', KEYS[2])
    for j = 1, #flat, 2 do caps[flat[j]] = tonumber(flat[j + 1]) end
    local now = tonumber(ARGV[4])
    for member in string.gmatch(fields[i + 1], '[^,]+') do
      local capacity = caps[member] or tonumber(ARGV[2])
      local key = prefix .. 'q:' .. member
      if redis.call('LLEN', key) >= capacity then
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
  elseif token then
    local parts = by_token[token]
    if parts then
      parts[#parts + 1] = fields[i + 1]
    else
      by_token[token] = {deadline, fields[i + 1]}
      tokens[#tokens + 1] = token
    end
  end
end

for _, token in ipairs(tokens) do
  local parts = by_token[token]
  parts[#parts + 1] = '\0'
  parts[#parts + 1] = payload
  local inbox = prefix .. 'in:' .. token
  redis.call('RPUSH', inbox, table.concat(parts))
  redis.call('EXPIRE', inbox, ttl)
  pushed = pushed + 1
end
return {pushed, skipped}
