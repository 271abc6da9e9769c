"""A forked child (Celery's prefork pool, multiprocessing with fork) starts its queue layer
afresh: none of the parent's mailboxes, waiters or counts, and the parent's process-local
channels stay the parent's."""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.connection import Connection

import pytest

from fast_channels.exceptions import InvalidChannelNameError
from fast_channels.layers.redis import RedisChannelLayer
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis


def _child(layer: RedisChannelLayer, channel: str, out: Connection) -> None:
    async def main() -> str:
        if layer.local.statistics().buffered:
            return "the parent's messages are in the child's mailboxes"
        try:
            message = await asyncio.wait_for(layer.receive(channel), 1)
        except InvalidChannelNameError:
            return "refused"
        return f"got {message!r}"

    out.send(asyncio.run(main()))


def test_a_forked_child_neither_holds_nor_receives_the_parents_buffered_messages(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix_for(request))
    with asyncio.Runner() as runner:

        async def setup() -> str:
            channel = await layer.new_channel()
            for i in range(3):
                await layer.send(channel, {"type": "m", "i": i})
            assert (await layer.receive(channel))["i"] == 0
            for _ in range(100):  # the reader popped the other two into the mailbox
                if layer.local.pending(channel) == 2:
                    break
                await asyncio.sleep(0.01)
            return channel

        channel = runner.run(setup())
        assert layer.local.pending(channel) == 2
        reader, writer = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("fork").Process(
            target=_child, args=(layer, channel, writer)
        )
        child.start()
        child.join(10)
        assert reader.poll(0)
        assert reader.recv() == "refused"
        got = [runner.run(layer.receive(channel))["i"] for _ in range(2)]
        assert got == [1, 2]  # each message once, in the parent
        runner.run(layer.flush())
        runner.run(layer.aclose())
