"""Group messages respect each member's capacity exactly, as a sender would have found it.

``group_send`` does no work per member in Redis: the receiving process checks each
member's mailbox. Messages popped together were waiting in Redis together, so one handed
straight to a waiting receiver still fills its channel for the rest of the batch.
"""

from __future__ import annotations

import asyncio

import pytest

from fast_channels.layers import InMemoryChannelLayer
from fast_channels.layers.base import BaseChannelLayer
from fast_channels.layers.redis import RedisChannelLayer
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis


async def _burst_then_drain(layer: BaseChannelLayer, prefix: str = "specific.") -> list[int]:
    """Ten group messages to one member that receives nothing meanwhile; then what it gets."""
    channel = await layer.new_channel(prefix)
    await layer.group_add("room", channel)
    for i in range(10):
        await layer.group_send("room", {"type": "m", "i": i})
    got = [(await asyncio.wait_for(layer.receive(channel), 5))["i"]]
    await layer.send(channel, {"type": "end", "i": -1})  # a direct message ends the drain
    while (message := await asyncio.wait_for(layer.receive(channel), 5))["type"] != "end":
        got.append(message["i"])
    return got


async def test_a_member_gets_at_most_capacity_of_a_burst_of_group_messages(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with InMemoryChannelLayer(capacity=3) as memory:
        expected = await _burst_then_drain(memory)
    async with RedisChannelLayer(
        hosts=[redis_server.url], prefix=prefix_for(request), capacity=3
    ) as layer:
        assert await _burst_then_drain(layer) == expected == [0, 1, 2]
        assert layer.statistics().group_skipped_full == 7
        await layer.flush()


async def test_a_members_own_capacity_bounds_a_burst_too(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with RedisChannelLayer(
        hosts=[redis_server.url],
        prefix=prefix_for(request),
        capacity=50,
        channel_capacity={"small.*": 2},
        receive_batch=16,
    ) as layer:
        assert await _burst_then_drain(layer, "small.") == [0, 1]
        await layer.flush()
