-- fast-channels queue layer: renew a process's marker on one Redis server (see _recovery.py).
--
-- KEYS[1]  the marker ("<prefix>:live:<token>")
-- ARGV[1]  its new value (a number the process counts up)
-- ARGV[2]  its TTL in seconds
--
-- Returns the value it held before (false if it held none): a server that no longer holds
-- the value the process left there lost the process's data (restart without persistence,
-- FLUSHALL, flush(), a failover to a replica that was behind).

return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'GET')
