"""The queue layer's inbox reader (``_inbox.py``) as it meets real entries: group entries
whose member lists it keeps parsed, membership changes between them, and entries no layer
wrote."""

from __future__ import annotations

import asyncio
import time

import pytest

from fast_channels.layers.redis import RedisChannelLayer
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis


async def _got(layer: RedisChannelLayer, channel: str) -> dict[str, object]:
    return dict(await asyncio.wait_for(layer.receive(channel), 2))


async def _nothing(layer: RedisChannelLayer, channel: str) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.2)


async def test_interleaved_groups_and_changing_members_reach_exactly_the_members(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """More groups than the reader keeps parsed, sent to in turn, members joining and
    leaving between sends: every message reaches the members of its group at that time."""
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix_for(request)) as layer:
        channels = [await layer.new_channel() for _ in range(12)]
        groups = {f"g{i}": channels[i * 2 : i * 2 + 3] for i in range(6)}  # they overlap
        for group, members in groups.items():
            for channel in members:
                await layer.group_add(group, channel)
        for round_ in range(3):
            for group in groups:
                await layer.group_send(group, {"type": "m", "group": group, "round": round_})
            for channel in channels:
                wanted = [g for g, members in groups.items() if channel in members]
                got = [(await _got(layer, channel))["group"] for _ in wanted]
                assert (got, round_) == (wanted, round_)
                if round_ == 2:
                    await _nothing(layer, channel)
            await layer.group_discard("g0", groups["g0"].pop(0))  # g0's list changes
            if channels[11] not in groups["g1"]:
                groups["g1"].append(channels[11])
                await layer.group_add("g1", channels[11])
        assert layer.statistics().undecodable == 0


async def test_entries_no_layer_wrote_are_counted_and_the_reader_goes_on(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    url = redis_server.url
    async with RedisChannelLayer(hosts=[url], prefix=prefix_for(request)) as layer:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "first"})
        assert (await _got(layer, channel))["type"] == "first"  # the reader runs
        deadline = b"%013d" % (int(time.time() * 1000) + 60_000)
        inbox = f"{layer.prefix}:in:{layer.token}"
        bad = [
            b"short",
            deadline + b",\0data",  # a group entry naming no member
            deadline + b",,,\0data",
            deadline + b"\0data",  # a direct entry naming no channel
            deadline + b"," + b"\xff\xfe" + b"\0data",  # not UTF-8
            b"x" * 13 + channel.encode() + b"\0data",  # no deadline
        ]
        await raw(url, "RPUSH", inbox, *bad)
        await layer.send(channel, {"type": "after"})
        assert (await _got(layer, channel))["type"] == "after"
        assert layer.statistics().undecodable == len(bad)
