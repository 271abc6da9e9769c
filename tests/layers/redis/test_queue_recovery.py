"""The queue layer after Redis lost its data: memberships come back, receivers are told.

A Redis restarted without persistence, or flushed, forgets every group membership and
message; ``group_send`` would then reach nobody without a word. Each process adds its own
memberships again, counts it, logs it, and puts a ``layer.reconnected`` notice on its
channels whose messages Redis held.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest

from fast_channels.exceptions import ChannelFull, LayerConnectionError
from fast_channels.layers.base import RESYNC_MESSAGE_TYPE
from fast_channels.layers.redis import RedisChannelLayer
from fast_channels.types import Message
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.servers import RedisProcess

pytestmark = [pytest.mark.redis]

SOCKET_TIMEOUT = 1.0


def _layer(
    server: RedisProcess, request: pytest.FixtureRequest, *, capacity: int = 100
) -> RedisChannelLayer:
    return RedisChannelLayer(
        hosts=[server.url],
        prefix=prefix_for(request),
        socket_timeout=SOCKET_TIMEOUT,
        capacity=capacity,
    )


async def _group_send_eventually(layer: RedisChannelLayer, group: str, message: Message) -> None:
    """``group_send``, again while the layer's connection still finds Redis gone."""
    deadline = time.monotonic() + 10
    while True:
        try:
            await layer.group_send(group, message)
            return
        except LayerConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def _notice(layer: RedisChannelLayer, channel: str) -> Message:
    """The next message on ``channel``, which must be the resync notice."""
    message = await asyncio.wait_for(layer.receive(channel), 15)
    assert message["type"] == RESYNC_MESSAGE_TYPE, message
    return message


@pytest.mark.parametrize("loss", ["restart", "flushall"])
async def test_memberships_come_back_and_members_are_told_after_redis_lost_its_data(
    loss: str, own_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with _layer(own_redis, request) as member, _layer(own_redis, request) as sender:
        channel = await member.new_channel()
        await member.group_add("room", channel)
        await sender.group_send("room", {"type": "before"})
        assert (await asyncio.wait_for(member.receive(channel), 5))["type"] == "before"

        if loss == "restart":
            own_redis.stop()
            own_redis.start()
        else:
            await raw(own_redis.url, "FLUSHALL")

        notice = await _notice(member, channel)
        assert notice["lost"] is None  # what waited in Redis is gone, and uncounted
        assert "lost this layer's data" in notice["reason"]
        await _group_send_eventually(sender, "room", {"type": "after"})
        assert (await asyncio.wait_for(member.receive(channel), 5))["type"] == "after"

        stats = member.statistics()
        assert stats.resyncs == 1
        assert stats.extra["redis_data_lost"] == 1
        assert stats.extra["memberships_reasserted"] == 1
        assert stats.groups == 1
        assert stats.gauges["memberships"] == 1


async def test_a_named_channel_receiver_is_told_when_redis_lost_its_messages(
    own_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with _layer(own_redis, request) as worker:
        await worker.send("jobs", {"type": "job"})
        assert (await asyncio.wait_for(worker.receive("jobs"), 5))["type"] == "job"
        waiting = asyncio.create_task(worker.receive("jobs"))
        await raw(own_redis.url, "FLUSHALL")
        assert (await asyncio.wait_for(waiting, 15))["type"] == RESYNC_MESSAGE_TYPE


async def test_a_reasserted_membership_keeps_the_time_it_was_added(
    own_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """It ends ``group_expiry`` after the ``group_add``, not after the loss."""
    async with _layer(own_redis, request) as layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        key = f"{layer.prefix}:g:room"
        added = cast(float, await raw(own_redis.url, "ZSCORE", key, channel))
        await asyncio.sleep(1)  # a membership added again now would be a second younger
        await raw(own_redis.url, "FLUSHALL")
        await _notice(layer, channel)
        again = cast(float, await raw(own_redis.url, "ZSCORE", key, channel))
        assert abs(again - added) < 500  # ms: the same moment, give or take the clock


async def test_a_discarded_membership_does_not_come_back(
    own_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with _layer(own_redis, request) as layer:
        kept, left = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("room", kept)
        await layer.group_add("room", left)
        await layer.group_discard("room", left)
        assert layer.statistics().gauges["memberships"] == 1
        await raw(own_redis.url, "FLUSHALL")
        await _notice(layer, kept)
        members = await raw(own_redis.url, "ZRANGE", f"{layer.prefix}:g:room", 0, -1)
        assert members == [kept.encode()]
        assert layer.statistics().extra["memberships_reasserted"] == 1


async def test_capacity_counts_the_messages_still_in_the_mailbox_after_a_loss(
    own_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """Messages the reader had taken from Redis before it lost its counters still fill
    their channel: they are counted again, so ``send`` sees the channel full in time."""
    async with _layer(own_redis, request, capacity=3) as layer:
        channel, other = await layer.new_channel(), await layer.new_channel()
        reading = asyncio.create_task(layer.receive(other))  # the inbox reader runs
        await layer.send(channel, {"type": "one"})
        await layer.send(channel, {"type": "two"})
        deadline = time.monotonic() + 10
        while layer.statistics().buffered < 2:  # both popped into the local mailbox
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await raw(own_redis.url, "FLUSHALL")
        assert (await asyncio.wait_for(reading, 15))["type"] == RESYNC_MESSAGE_TYPE
        await layer.send(channel, {"type": "three"})
        with pytest.raises(ChannelFull):
            await layer.send(channel, {"type": "four"})
        got = [(await layer.receive(channel))["type"] for _ in range(4)]
        assert got == ["one", "two", RESYNC_MESSAGE_TYPE, "three"]


async def test_the_layers_own_flush_is_no_loss(
    own_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with _layer(own_redis, request) as layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        marker = f"{layer.prefix}:live:{layer.token}"
        await layer.flush()
        assert await raw(own_redis.url, "EXISTS", marker) == 0  # flush() leaves nothing
        await layer.group_add("room", channel)
        # Two renewals of the marker after the flush: the check that would have found
        # the data gone has run.
        seen: set[object] = set()
        deadline = time.monotonic() + 15
        while len(seen - {None}) < 3:
            assert time.monotonic() < deadline, seen
            seen.add(await raw(own_redis.url, "GET", marker))
            await asyncio.sleep(0.05)
        stats = layer.statistics()
        assert (stats.resyncs, stats.extra["redis_data_lost"], stats.groups) == (0, 0, 1)
