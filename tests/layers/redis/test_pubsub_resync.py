"""The pub/sub layer tells its local receivers when messages to them may have been lost:
whenever its subscriber connection is lost (Redis restarted, the connection was killed,
Redis dropped a subscriber that fell behind), every local channel it served gets one
``layer.reconnected`` notice once it is subscribed again, against real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest

from fast_channels.exceptions import LayerConnectionError
from fast_channels.layers.base import RESYNC_MESSAGE_TYPE
from fast_channels.layers.redis import RedisPubSubChannelLayer
from fast_channels.types import Message
from tests.layers.redis.queue_helpers import raw
from tests.servers import RedisProcess, running_redis

pytestmark = pytest.mark.redis


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    """A redis-server of this test alone (it gets killed or its clients do)."""
    with running_redis("--client-output-buffer-limit", "pubsub 256kb 0 0") as server:
        yield server


async def subscriber_ids(url: str) -> list[str]:
    listing = cast(bytes, await raw(url, "CLIENT", "LIST", "TYPE", "pubsub")).decode()
    return [
        field[3:] for line in listing.splitlines() for field in line.split() if field[:3] == "id="
    ]


async def next_message(layer: RedisPubSubChannelLayer, channel: str) -> Message:
    return await asyncio.wait_for(layer.receive(channel), 10)


async def delivered_again(layer: RedisPubSubChannelLayer, channel: str, group: str) -> Message:
    """Group-send until ``channel`` gets a message (the subscription is back): it."""
    for _ in range(200):
        with contextlib.suppress(LayerConnectionError):
            await layer.group_send(group, {"type": "after"})
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(layer.receive(channel), 0.05)
    raise AssertionError("the group subscription never came back")


async def test_a_killed_subscriber_connection_tells_each_local_channel_once(
    own_redis: RedisProcess,
) -> None:
    async with RedisPubSubChannelLayer(hosts=[own_redis.url], prefix="resync") as layer:
        first = await layer.new_channel()
        second = await layer.new_channel()
        await layer.group_add("room", first)
        waiting = asyncio.ensure_future(layer.receive(second))
        (subscriber,) = await subscriber_ids(own_redis.url)

        await raw(own_redis.url, "CLIENT", "KILL", "ID", subscriber)

        notice = await next_message(layer, first)
        assert notice["type"] == RESYNC_MESSAGE_TYPE
        assert notice["lost"] is None
        assert "was lost" in notice["reason"]
        assert (await asyncio.wait_for(waiting, 10))["type"] == RESYNC_MESSAGE_TYPE
        # The notice comes once every subscription is back: what is sent after it arrives.
        await layer.group_send("room", {"type": "after"})
        assert (await next_message(layer, first))["type"] == "after"
        stats = layer.statistics()
        assert stats.resyncs == 2
        assert stats.extra["reconnects"] == 1


async def test_a_redis_restart_tells_receivers_to_resync(own_redis: RedisProcess) -> None:
    async with RedisPubSubChannelLayer(hosts=[own_redis.url], prefix="restart") as layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        own_redis.stop()
        own_redis.start()
        got = await delivered_again(layer, channel, "room")
        assert got["type"] == RESYNC_MESSAGE_TYPE
        assert (await next_message(layer, channel))["type"] == "after"
        assert layer.statistics().extra["reconnects"] >= 1


async def test_a_subscriber_dropped_past_its_output_buffer_is_told(
    own_redis: RedisProcess,
) -> None:
    """Redis disconnects a subscriber whose output buffer reaches the pub/sub hard limit
    (256 KB here), dropping what it held: its receivers must hear of it."""
    options: dict[str, Any] = {"hosts": [own_redis.url], "prefix": "obuf"}
    async with RedisPubSubChannelLayer(**options) as layer:
        channel = await layer.new_channel()
        (subscriber,) = await subscriber_ids(own_redis.url)

        def flood() -> None:
            """From another thread, while this loop is blocked and so reads nothing:
            publish until Redis has dropped the subscriber."""

            async def run() -> None:
                async with RedisPubSubChannelLayer(**options) as sender:
                    for _ in range(2000):
                        await asyncio.gather(
                            *(sender.send(channel, {"type": "bulk", "data": b"x" * 100_000})
                            for _ in range(4))
                        )  # fmt: skip
                        if subscriber not in await subscriber_ids(own_redis.url):
                            return
                    raise AssertionError("Redis never dropped the subscriber")

            asyncio.run(run())

        thread = threading.Thread(target=flood)
        thread.start()
        thread.join()  # blocks this loop: the subscriber falls behind

        kinds: list[str] = []
        while RESYNC_MESSAGE_TYPE not in kinds:
            kinds.append((await next_message(layer, channel))["type"])
        assert set(kinds) <= {"bulk", RESYNC_MESSAGE_TYPE}
        assert layer.statistics().resyncs == 1


async def test_with_shards_only_the_channels_of_the_broken_connection_are_told() -> None:
    with running_redis() as first, running_redis() as second:
        servers = [first, second]
        async with RedisPubSubChannelLayer(hosts=[s.url for s in servers], prefix="sh") as layer:
            inbox_shard = layer.connection.shard_for((await layer.new_channel()).split("!")[0])
            other = 1 - inbox_shard
            groups = {layer.connection.shard_for(f"g{i}"): f"g{i}" for i in range(20)}
            told, untold = await layer.new_channel(), await layer.new_channel()
            await layer.group_add(groups[other], told)
            await layer.group_add(groups[inbox_shard], untold)
            (subscriber,) = await subscriber_ids(servers[other].url)

            await raw(servers[other].url, "CLIENT", "KILL", "ID", subscriber)

            assert (await next_message(layer, told))["type"] == RESYNC_MESSAGE_TYPE
            await layer.group_send(groups[inbox_shard], {"type": "not a notice"})
            assert (await next_message(layer, untold))["type"] == "not a notice"
            assert layer.statistics().resyncs == 1
