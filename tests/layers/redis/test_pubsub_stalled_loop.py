"""The pub/sub layer loses nothing to a stalled event loop.

Its subscriber reads without a deadline: messages Redis sends while the loop is blocked
(``time.sleep``, a handler that does not await) wait in the socket and are read when the
loop runs again, however long past ``socket_timeout`` that is. The connection is kept, so
no resync notice is due.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from fast_channels.layers.redis import RedisPubSubChannelLayer
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

pytestmark = [pytest.mark.redis]

SOCKET_TIMEOUT = 1.0
STALL = SOCKET_TIMEOUT * 2


def _publish_from_a_thread(
    url: str, prefix: str, channel: str, count: int, sent: threading.Event
) -> None:
    """Send ``count`` messages and a group message from a layer of this thread's own."""

    async def publish() -> None:
        async with RedisPubSubChannelLayer(hosts=[url], prefix=prefix) as layer:
            for i in range(count):
                await layer.send(channel, {"type": "direct", "i": i})
            await layer.group_send("room", {"type": "group"})
        sent.set()

    asyncio.run(publish())


async def test_messages_sent_while_the_loop_is_stalled_are_all_delivered(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    async with RedisPubSubChannelLayer(
        hosts=[redis_server.url], prefix=prefix, socket_timeout=SOCKET_TIMEOUT
    ) as layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        sent = threading.Event()
        publisher = threading.Thread(
            target=_publish_from_a_thread,
            args=(redis_server.url, prefix, channel, 20, sent),
        )
        publisher.start()
        publisher.join()  # the event loop is blocked all along
        time.sleep(STALL)  # noqa: ASYNC251 -- the loop stays blocked past socket_timeout
        assert sent.is_set()
        got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(21)]
        assert [m.get("i") for m in got[:20]] == list(range(20))
        assert got[20] == {"type": "group"}
        stats = layer.statistics()
        assert (stats.extra["reconnects"], stats.resyncs, stats.undecodable) == (0, 0, 0)
