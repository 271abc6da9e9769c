"""One receiver that never reads: it is bounded, counted, and slows no one else.

Its channel fills to capacity, then the layer's overflow rule acts: the in-memory and queue
layers skip it in ``group_send`` (``group_skipped_full``); the pub/sub layer's mailbox drops
its oldest message (``dropped_overflow``). The other members get every message, in order.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.layers.base import BaseChannelLayer
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import Message
from tests.layers.redis.queue_helpers import prefix_for
from tests.resilience.traffic import build_layer
from tests.servers import RedisProcess

CAPACITY = 20
MESSAGES = 500
FAST = 3


def make_layer(kind: str, request: pytest.FixtureRequest, **options: Any) -> BaseChannelLayer:
    if kind == "in_memory":
        return InMemoryChannelLayer(**options)
    server: RedisProcess = request.getfixturevalue("redis_server")
    return build_layer(
        kind, {"hosts": [server.url], "prefix": prefix_for(request, kind), **options}
    )


@pytest.mark.parametrize(
    "kind", ["in_memory", pytest.param("queue", marks=pytest.mark.redis),
             pytest.param("pubsub", marks=pytest.mark.redis)],
)  # fmt: skip
async def test_a_receiver_that_never_reads_is_bounded_and_counted(
    kind: str, request: pytest.FixtureRequest
) -> None:
    layer = make_layer(kind, request, channel_capacity={"slow.*": CAPACITY}, capacity=10_000)
    async with layer:
        slow = await layer.new_channel("slow.")
        fast = [await layer.new_channel("fast.") for _ in range(FAST)]
        for channel in (slow, *fast):
            await layer.group_add("room", channel)
        got: dict[str, list[int]] = {channel: [] for channel in fast}

        async def drain(channel: str) -> None:
            while len(got[channel]) < MESSAGES:
                got[channel].append(int((await layer.receive(channel))["i"]))

        readers = [asyncio.create_task(drain(channel)) for channel in fast]
        started = time.monotonic()
        for i in range(MESSAGES):
            await layer.group_send("room", {"type": "m", "i": i})
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.gather(*readers), 30)
        elapsed = time.monotonic() - started
        stats = layer.statistics()
        print(
            f"\n[resilience] slow-consumer/{kind}: {MESSAGES} group messages to {FAST} fast "
            f"members + 1 that never reads in {elapsed:.2f}s; buffered={stats.buffered} "
            f"group_skipped_full={stats.group_skipped_full} "
            f"dropped_overflow={stats.dropped_overflow}"
        )
        assert all(got[channel] == list(range(MESSAGES)) for channel in fast)
        assert stats.buffered == CAPACITY
        if kind == "pubsub":
            assert stats.dropped_overflow == MESSAGES - CAPACITY
            expected = list(range(MESSAGES - CAPACITY, MESSAGES))  # freshest data wins
        else:
            assert stats.group_skipped_full == MESSAGES - CAPACITY
            expected = list(range(CAPACITY))
        kept = [int((await layer.receive(slow))["i"]) for _ in range(CAPACITY)]
        assert kept == expected
        await layer.flush()


class RoomMember(AsyncWebsocketConsumer):
    """Relays room messages to its client; one given ``release`` blocks in its handler
    until that event is set."""

    groups = ("room",)
    release: asyncio.Event | None = None

    async def room_message(self, message: Message) -> None:
        if self.release is not None:
            await self.release.wait()
        await self.send(text_data=str(message["i"]))


@pytest.mark.parametrize("kind", ["in_memory", pytest.param("queue", marks=pytest.mark.redis)])
async def test_a_stuck_websocket_consumer_does_not_hold_up_its_group(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """Its handler stops reading its layer channel, which fills; then ``group_send`` skips it."""
    layer = make_layer(kind, request)
    register_channel_layer("default", layer)
    capacity = layer.capacity
    async with layer:
        fast = [WebsocketCommunicator(RoomMember.as_asgi(), "/") for _ in range(FAST)]
        release = asyncio.Event()
        stuck = WebsocketCommunicator(RoomMember.as_asgi(release=release), "/")
        for communicator in (*fast, stuck):
            assert (await communicator.connect())[0]
        messages = 2 * capacity + 100
        for i in range(messages):
            await layer.group_send("room", {"type": "room.message", "i": i})
            for communicator in fast:
                assert await communicator.receive_from(timeout=5) == str(i)
        stats = layer.statistics()
        print(
            f"\n[resilience] stuck-consumer/{kind}: {messages} group messages; "
            f"skipped for the stuck one: {stats.group_skipped_full}, buffered {stats.buffered}"
        )
        # At most capacity (layer) + 2 in hand (one per source) wait for the stuck one.
        assert messages - (capacity + 2) <= stats.group_skipped_full
        assert stats.group_skipped_full <= messages - capacity
        assert stats.buffered <= capacity
        release.set()
        for communicator in fast:
            await communicator.disconnect()
        await stuck.stop()
        await layer.flush()
