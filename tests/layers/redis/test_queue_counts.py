"""The queue layer's per-channel counters in Redis (what ``send`` sees as a channel's fill),
kept by the receiving process: direct messages counted down as they are received, group
messages counted in once they pile up in a mailbox (see ``_acks.py``)."""

from __future__ import annotations

import asyncio

import pytest

from fast_channels.exceptions import ChannelFull
from fast_channels.layers.redis import RedisChannelLayer
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis


async def _count(url: str, layer: RedisChannelLayer, channel: str) -> int:
    reply = await raw(url, "HGET", f"{layer.prefix}:n:{layer.token}", channel)
    return int(reply) if isinstance(reply, bytes) else 0


async def _until_count(url: str, layer: RedisChannelLayer, channel: str, wanted: int) -> None:
    """Wait until the receiving process has reported ``wanted`` for ``channel``."""
    for _ in range(500):
        if await _count(url, layer, channel) == wanted:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the counter of {channel} never reached {wanted}")


async def test_counts_return_to_zero_once_everything_is_received(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    url, prefix = redis_server.url, prefix_for(request)
    async with (
        RedisChannelLayer(hosts=[url], prefix=prefix) as receiver,
        RedisChannelLayer(hosts=[url], prefix=prefix) as sender,
    ):
        channels = [await receiver.new_channel() for _ in range(5)]
        for channel in channels:
            for i in range(7):
                await sender.send(channel, {"type": "n", "i": i})
        assert [await _count(url, receiver, c) for c in channels] == [7] * 5
        for channel in channels:
            got = [(await receiver.receive(channel))["i"] for _ in range(7)]
            assert got == list(range(7))
        for channel in channels:
            await _until_count(url, receiver, channel, 0)
        assert await raw(url, "EXISTS", f"{prefix}:n:{receiver.token}") == 0
        await receiver.flush()


async def test_group_messages_piling_up_count_for_send(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    url, prefix = redis_server.url, prefix_for(request)
    async with (
        RedisChannelLayer(hosts=[url], prefix=prefix, capacity=4) as receiver,
        RedisChannelLayer(hosts=[url], prefix=prefix, capacity=4) as sender,
    ):
        channel, other = await receiver.new_channel(), await receiver.new_channel()
        await receiver.group_add("room", channel)
        waiter = asyncio.ensure_future(receiver.receive(other))  # starts the inbox reader
        for i in range(4):
            await sender.group_send("room", {"type": "g", "i": i})
        await _until_count(url, receiver, channel, 4)  # a full mailbox, as senders see it
        with pytest.raises(ChannelFull):
            await sender.send(channel, {"type": "direct"})
        assert [(await receiver.receive(channel))["i"] for _ in range(4)] == [0, 1, 2, 3]
        await _until_count(url, receiver, channel, 0)  # lowered again as they were received
        await sender.send(channel, {"type": "direct"})
        assert (await receiver.receive(channel))["type"] == "direct"
        assert receiver.statistics().group_skipped_full == 0
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        await receiver.flush()
