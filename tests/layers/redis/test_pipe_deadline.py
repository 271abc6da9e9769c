"""The command pipe's time bound: a round trip Redis does not answer fails, one it answers
does not, however long its commands waited for their turn."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import BlockingConnectionPool

from fast_channels.layers.redis._pipe import CommandPipe
from tests.servers import RedisProcess

TIMEOUT = 2.0
BUSY = 1.2  # each round trip keeps Redis busy this long: two of them exceed TIMEOUT

# Keeps Redis busy for ARGV[1] seconds of its own clock, then answers 1.
BUSY_SCRIPT = """
local function now() local t = redis.call('TIME') return t[1] + t[2] / 1e6 end
local start = now()
while now() - start < tonumber(ARGV[1]) do end
return 1
"""


async def test_a_command_waiting_behind_an_answered_round_trip_does_not_time_out(
    redis_server: RedisProcess,
) -> None:
    pool = BlockingConnectionPool(host="127.0.0.1", port=redis_server.port, max_connections=4)
    pipe = CommandPipe(pool, [], redis_server.url, timeout=TIMEOUT)
    try:
        await pipe.ready()  # connected: the first command's round trip starts at once
        first = asyncio.ensure_future(pipe.command("EVAL", BUSY_SCRIPT, 0, BUSY))
        await asyncio.sleep(0)  # it holds the pipe: the next command is queued behind it
        # Queued now; its own round trip starts when the first ends, BUSY seconds later,
        # and ends 2 * BUSY > TIMEOUT after it was submitted: Redis answered all along.
        second = asyncio.ensure_future(pipe.command("EVAL", BUSY_SCRIPT, 0, BUSY))
        assert await first == 1
        assert await second == 1
        assert pipe.errors == 0
    finally:
        await pipe.aclose()
        await pool.aclose()


async def test_a_reply_that_came_while_the_loop_was_blocked_is_read(
    redis_server: RedisProcess,
) -> None:
    """The loop blocked past the deadline (a handler calling blocking code): Redis answered
    meanwhile, so the reply waits in the socket and is read, not reported as a failure."""
    pool = BlockingConnectionPool(host="127.0.0.1", port=redis_server.port, max_connections=4)
    pipe = CommandPipe(pool, [], redis_server.url, timeout=1.0)
    try:
        await pipe.ready()
        reply = asyncio.ensure_future(pipe.command("INCR", "stalled-counter"))
        await asyncio.sleep(0)  # written: Redis answers at once, the loop cannot read it yet
        time.sleep(1.5)  # noqa: ASYNC251 - the stall under test
        assert await reply == 1
        assert pipe.errors == 0
    finally:
        await pipe.aclose()
        await pool.aclose()
