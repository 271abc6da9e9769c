"""A forked child (Celery's prefork pool, multiprocessing with fork) starts its Redis layers
afresh: none of the parent's mailboxes, waiters, counts, subscriptions or event loops, and
the parent's process-local channels stay the parent's."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from multiprocessing.connection import Connection

import pytest

from fast_channels.exceptions import InvalidChannelNameError
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
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


def _pubsub_child(layer: RedisPubSubChannelLayer, parents: str, out: Connection) -> None:
    async def main() -> str:
        try:
            await asyncio.wait_for(layer.receive(parents), 1)
        except InvalidChannelNameError:
            pass
        else:
            return "received on the parent's channel"
        channel = await asyncio.wait_for(layer.new_channel(), 5)
        await layer.group_add("forked", channel)
        await layer.group_send("forked", {"type": "m"})
        message = await asyncio.wait_for(layer.receive(channel), 5)
        await layer.aclose()
        return f"got {message['type']}"

    out.send(asyncio.run(main()))


def test_a_forked_child_subscribes_anew_while_the_parents_loop_still_runs(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """The parent's subscriptions live on a loop running in another thread (the sync API's,
    say) when it forks: the child used to hand its subscriptions to that loop, which does
    not run in the child, and waited forever."""
    layer = RedisPubSubChannelLayer(hosts=[redis_server.url], prefix=prefix_for(request))
    made: list[str] = []
    ready, done = threading.Event(), threading.Event()

    def parent_loop() -> None:
        async def main() -> None:
            made.append(await layer.new_channel())
            ready.set()
            await asyncio.to_thread(done.wait, 30)  # the loop runs on meanwhile
            await layer.aclose()

        asyncio.run(main())

    thread = threading.Thread(target=parent_loop)
    thread.start()
    try:
        assert ready.wait(5)
        reader, writer = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("fork").Process(
            target=_pubsub_child, args=(layer, made[0], writer)
        )
        child.start()
        child.join(20)
        assert reader.poll(0)
        assert reader.recv() == "got m"
    finally:
        done.set()
        thread.join(10)
