"""``wire_format="channels_redis"``: both Redis layers share channels and groups with real
channels_redis 4.3 layers (Django Channels' own) through one real Redis, both ways — group
messages, direct sends to the other side's channels, named (worker) channels — with
channels_redis's capacity, expiry, encryption, JSON and placement over several hosts."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any, cast

import pytest

pytest.importorskip("channels_redis")

from channels.exceptions import ChannelFull as TheirChannelFull
from channels_redis.core import RedisChannelLayer as TheirQueueLayer
from channels_redis.pubsub import RedisPubSubChannelLayer as TheirPubSubLayer

from fast_channels.exceptions import ChannelFull
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from fast_channels.layers.redis._channels_redis import slot_shard
from fast_channels.types import Message
from tests.layers.redis.queue_helpers import keys, prefix_for, raw
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis

WAIT = 10.0
MESSAGE: Message = {"type": "chat.message", "text": "héllo", "data": b"\x00\xff", "n": [1, 2.5]}


@contextlib.asynccontextmanager
async def queue_pair(
    hosts: Sequence[str], prefix: str, **options: Any
) -> AsyncGenerator[tuple[RedisChannelLayer, TheirQueueLayer]]:
    """Our queue layer in channels_redis's format and channels_redis's own, alike
    configured; flushed and closed after."""
    ours = RedisChannelLayer(
        hosts=list(hosts), prefix=prefix, wire_format="channels_redis", **options
    )
    theirs = TheirQueueLayer(hosts=list(hosts), prefix=prefix, **options)
    try:
        yield ours, theirs
    finally:
        await ours.flush()
        await ours.aclose()
        await theirs.close_pools()


@contextlib.asynccontextmanager
async def pubsub_pair(
    hosts: Sequence[str], prefix: str, **options: Any
) -> AsyncGenerator[tuple[RedisPubSubChannelLayer, TheirPubSubLayer]]:
    """Our pub/sub layer in channels_redis's format and channels_redis's own."""
    ours = RedisPubSubChannelLayer(
        hosts=list(hosts), prefix=prefix, wire_format="channels_redis", **options
    )
    theirs = TheirPubSubLayer(hosts=list(hosts), prefix=prefix, **options)
    try:
        yield ours, theirs
    finally:
        await ours.aclose()
        await theirs.flush()


def theirs_prefix(layer: RedisPubSubChannelLayer) -> str:
    """channels_redis's pub/sub names its channels after its prefix (ours need not)."""
    return layer.prefix


async def got(layer: RedisChannelLayer | RedisPubSubChannelLayer, channel: str) -> Message:
    return await asyncio.wait_for(layer.receive(channel), WAIT)


async def their(layer: TheirQueueLayer | TheirPubSubLayer, channel: str) -> Message:
    return await asyncio.wait_for(layer.receive(channel), WAIT)


def spread_over_two_hosts(stem: str, *, prefix: str = "") -> list[str]:
    """Eight names ``stem<n>``, four placed on each of two hosts (of ``prefix`` + name)."""
    names = [f"{stem}{n}" for n in range(200)]
    on = [[name for name in names if slot_shard(prefix + name, 2) == host][:4] for host in (0, 1)]
    return sorted(on[0] + on[1])


# -- the queue layer --------------------------------------------------------------------


async def test_queue_group_messages_go_both_ways(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with queue_pair([redis_server.url], prefix_for(request)) as (ours, theirs):
        mine, yours = await ours.new_channel(), await theirs.new_channel()
        second = await ours.new_channel()
        for layer, channel in ((ours, mine), (theirs, yours), (ours, second)):
            await layer.group_add("room", channel)

        await ours.group_send("room", {**MESSAGE, "from": "ours"})
        await theirs.group_send("room", {**MESSAGE, "from": "theirs"})

        for sender in ("ours", "theirs"):
            assert await their(theirs, yours) == {**MESSAGE, "from": sender}
            assert await got(ours, mine) == {**MESSAGE, "from": sender}
            assert await got(ours, second) == {**MESSAGE, "from": sender}

        await ours.group_discard("room", second)
        await theirs.group_discard("room", mine)
        await theirs.group_send("room", {"type": "after"})
        assert await their(theirs, yours) == {"type": "after"}
        stored = await raw(redis_server.url, "ZRANGE", f"{ours.prefix}:group:room", 0, -1)
        assert stored == [yours.encode()]


async def test_queue_direct_sends_reach_the_other_sides_channels(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with queue_pair([redis_server.url], prefix_for(request)) as (ours, theirs):
        mine, yours = await ours.new_channel(), await theirs.new_channel()
        await ours.send(yours, {"type": "to.theirs", "n": 1})
        await theirs.send(mine, {"type": "to.ours", "n": 2})
        await ours.send(mine, {"type": "to.ours", "n": 3})
        assert await their(theirs, yours) == {"type": "to.theirs", "n": 1}
        assert await got(ours, mine) == {"type": "to.ours", "n": 2}
        assert await got(ours, mine) == {"type": "to.ours", "n": 3}


async def test_queue_named_channels_are_shared_work_queues(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """A worker channel: each message reaches one receiver, whichever side pops it."""
    async with queue_pair([redis_server.url], prefix_for(request)) as (ours, theirs):
        await theirs.send("thumbnails", {"type": "job", "n": 1})
        await ours.send("thumbnails", {"type": "job", "n": 2})
        assert await got(ours, "thumbnails") == {"type": "job", "n": 1}
        assert await their(theirs, "thumbnails") == {"type": "job", "n": 2}
        assert await keys(redis_server.url, f"{ours.prefix}*") == []


async def test_queue_capacity_is_channels_redis_count_as_both_sides_see_it(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """Capacity counts what waits in Redis: the channels of one process share it."""
    async with queue_pair([redis_server.url], prefix_for(request), capacity=2) as (ours, theirs):
        mine, yours = await ours.new_channel(), await theirs.new_channel()
        neighbour = await ours.new_channel()
        await ours.send(yours, {"type": "a"})
        await theirs.send(yours, {"type": "b"})
        with pytest.raises(ChannelFull):
            await ours.send(yours, {"type": "c"})
        await theirs.send(mine, {"type": "a"})
        await ours.send(neighbour, {"type": "b"})
        with pytest.raises(TheirChannelFull):
            await theirs.send(mine, {"type": "c"})
        await ours.group_add("full", yours)
        await ours.group_add("full", await theirs.new_channel())  # the same (full) set
        await ours.group_add("full", "spare")
        await ours.group_send("full", {"type": "g"})
        assert ours.statistics().group_skipped_full == 2
        assert await their(theirs, "spare") == {"type": "g"}
        assert ours.statistics().rejected_full == 1
        assert [(await their(theirs, yours))["type"] for _ in "ab"] == ["a", "b"]
        assert (await got(ours, mine))["type"] == "a"
        await ours.send(yours, {"type": "room again"})


async def test_queue_messages_older_than_expiry_are_dropped_on_both_paths(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """Sends remove members older than ``expiry`` before counting; a reader drops any it
    pops (counted), as channels_redis's sends do."""
    async with queue_pair([redis_server.url], prefix_for(request), capacity=1, expiry=30) as (
        ours,
        theirs,
    ):
        key = f"{ours.prefix}jobs"
        await theirs.send("jobs", {"type": "old"})
        (member,) = cast(list[bytes], await raw(redis_server.url, "ZRANGE", key, 0, -1))
        await raw(redis_server.url, "ZINCRBY", key, -60, member)  # sent a minute ago
        await ours.send("jobs", {"type": "fresh"})  # the old one no longer counts
        assert await got(ours, "jobs") == {"type": "fresh"}

        await theirs.send("jobs", {"type": "stale"})
        (member,) = cast(list[bytes], await raw(redis_server.url, "ZRANGE", key, 0, -1))
        await raw(redis_server.url, "ZINCRBY", key, -60, member)
        receiving = asyncio.ensure_future(ours.receive("jobs"))
        for _ in range(400):  # until the reader has popped the stale message
            if not await raw(redis_server.url, "EXISTS", key):
                break
            await asyncio.sleep(0.01)
        await theirs.send("jobs", {"type": "next"})
        assert await asyncio.wait_for(receiving, WAIT) == {"type": "next"}
        assert ours.statistics().expired == 1
        ttl = await raw(redis_server.url, "TTL", key)
        assert ttl == -2  # popped: the set is gone, as it expires with its last message


async def test_queue_encrypted_and_json_messages_are_shared(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    for options in (
        {"symmetric_encryption_keys": ["a fairly long secret key for the test, 32+ bytes"]},
        {"serializer_format": "json"},
        {"serializer_format": "json", "symmetric_encryption_keys": ["another secret key"]},
    ):
        prefix = prefix_for(request, str(options))
        async with queue_pair([redis_server.url], prefix, **options) as (ours, theirs):
            mine, yours = await ours.new_channel(), await theirs.new_channel()
            await ours.group_add("room", mine)
            await theirs.group_add("room", yours)
            await theirs.group_send("room", {"type": "m", "n": [1, "x"]})
            await ours.group_send("room", {"type": "m", "n": [2, "y"]})
            assert await got(ours, mine) == {"type": "m", "n": [1, "x"]}
            assert await their(theirs, yours) == {"type": "m", "n": [1, "x"]}
            assert await got(ours, mine) == {"type": "m", "n": [2, "y"]}
            assert await their(theirs, yours) == {"type": "m", "n": [2, "y"]}


async def test_queue_placement_over_several_hosts_matches_channels_redis(
    redis_server: RedisProcess, redis_server_2: RedisProcess, request: pytest.FixtureRequest
) -> None:
    hosts = [redis_server.url, redis_server_2.url]
    async with queue_pair(hosts, prefix_for(request)) as (ours, theirs):
        mine = [await ours.new_channel() for _ in range(4)]
        yours = [await theirs.new_channel() for _ in range(4)]
        groups = spread_over_two_hosts("room")
        assert {theirs.consistent_hash(group) for group in groups} == {0, 1}
        for group in groups:
            for channel in mine:
                await ours.group_add(group, channel)
            for channel in yours:
                await theirs.group_add(group, channel)
        for i, group in enumerate(groups):
            sender = ours if i % 2 else theirs
            await sender.group_send(group, {"type": "g", "group": group})
        for channel in mine:
            assert sorted([(await got(ours, channel))["group"] for _ in groups]) == groups
        for channel in yours:
            assert sorted([(await their(theirs, channel))["group"] for _ in groups]) == groups
        for a, b in zip(mine, yours, strict=True):
            await theirs.send(a, {"type": "direct"})
            await ours.send(b, {"type": "direct"})
            assert await got(ours, a) == {"type": "direct"}
            assert await their(theirs, b) == {"type": "direct"}
        # channels_redis spreads its sends to a named channel over the hosts: all arrive.
        for n in range(4):
            await theirs.send("jobs", {"type": "job", "n": n})
        assert sorted([(await got(ours, "jobs"))["n"] for _ in range(4)]) == [0, 1, 2, 3]


def test_the_placement_of_a_name_is_channels_redis_own() -> None:
    names = [f"specific.{zlib.crc32(bytes([i])):x}!" for i in range(200)] + ["a", "room"]
    for hosts in range(1, 7):
        theirs = TheirQueueLayer(hosts=[f"redis://localhost:{6000 + i}" for i in range(hosts)])
        for name in names:
            assert slot_shard(name, hosts) == theirs.consistent_hash(name), (name, hosts)


# -- the pub/sub layer ------------------------------------------------------------------


async def test_pubsub_group_messages_go_both_ways(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with pubsub_pair([redis_server.url], prefix_for(request)) as (ours, theirs):
        mine, yours = await ours.new_channel(), await theirs.new_channel()
        await ours.group_add("room", mine)
        await theirs.group_add("room", yours)
        await ours.group_send("room", {**MESSAGE, "from": "ours"})
        assert await their(theirs, yours) == {**MESSAGE, "from": "ours"}
        assert await got(ours, mine) == {**MESSAGE, "from": "ours"}
        await theirs.group_send("room", {**MESSAGE, "from": "theirs"})
        assert await got(ours, mine) == {**MESSAGE, "from": "theirs"}
        assert await their(theirs, yours) == {**MESSAGE, "from": "theirs"}


async def test_pubsub_direct_and_named_sends_reach_the_other_side(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with pubsub_pair([redis_server.url], prefix_for(request)) as (ours, theirs):
        mine, yours = await ours.new_channel(), await theirs.new_channel()
        assert yours.startswith(f"{theirs_prefix(ours)}specific.")
        await theirs.send(mine, {"type": "to.ours"})
        await ours.send(yours, {"type": "to.theirs"})
        assert await got(ours, mine) == {"type": "to.ours"}
        assert await their(theirs, yours) == {"type": "to.theirs"}

        receiving = asyncio.ensure_future(theirs.receive("events"))
        for _ in range(400):  # until channels_redis has subscribed
            if await raw(redis_server.url, "PUBSUB", "NUMSUB", "events") == [b"events", 1]:
                break
            await asyncio.sleep(0.01)
        await ours.send("events", {"type": "event"})
        assert await asyncio.wait_for(receiving, WAIT) == {"type": "event"}
        waiting = asyncio.ensure_future(ours.receive("notices"))
        for _ in range(400):
            if await raw(redis_server.url, "PUBSUB", "NUMSUB", "notices") == [b"notices", 1]:
                break
            await asyncio.sleep(0.01)
        await theirs.send("notices", {"type": "notice"})
        assert await asyncio.wait_for(waiting, WAIT) == {"type": "notice"}


async def test_pubsub_over_several_hosts_and_encrypted(
    redis_server: RedisProcess, redis_server_2: RedisProcess, request: pytest.FixtureRequest
) -> None:
    hosts = [redis_server.url, redis_server_2.url]
    options: dict[str, Any] = {
        "symmetric_encryption_keys": ["the key both sides share, long enough"],
        "serializer_format": "json",
    }
    async with pubsub_pair(hosts, prefix_for(request), **options) as (ours, theirs):
        mine, yours = await ours.new_channel(), await theirs.new_channel()
        groups = spread_over_two_hosts("room", prefix=f"{ours.prefix}__group__")
        for group in groups:
            await ours.group_add(group, mine)
            await theirs.group_add(group, yours)
        shards = {ours.connection.shard_for(f"{ours.prefix}__group__{g}") for g in groups}
        assert shards == {0, 1}
        for i, group in enumerate(groups):
            await (ours if i % 2 else theirs).group_send(group, {"type": "g", "group": group})
        assert sorted([(await got(ours, mine))["group"] for _ in groups]) == groups
        assert sorted([(await their(theirs, yours))["group"] for _ in groups]) == groups
        await theirs.send(mine, {"type": "direct"})
        await ours.send(yours, {"type": "direct"})
        assert await got(ours, mine) == {"type": "direct"}
        assert await their(theirs, yours) == {"type": "direct"}


async def test_pubsub_capacity_is_the_receivers_mailbox(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """As in the layer's own format: a full mailbox drops by its overflow policy, counted
    (channels_redis's pub/sub layer keeps an unbounded queue instead)."""
    async with pubsub_pair([redis_server.url], prefix_for(request)) as (ours, theirs):
        small = RedisPubSubChannelLayer(
            hosts=[redis_server.url],
            prefix=ours.prefix,
            wire_format="channels_redis",
            capacity=2,
        )
        try:
            mine = await small.new_channel()
            await small.group_add("room", mine)
            for n in range(4):
                await theirs.group_send("room", {"type": "n", "n": n})
            await theirs.send(mine, {"type": "last"})
            received: list[Message] = []
            while not received or received[-1]["type"] != "last":
                received.append(await got(small, mine))
            assert small.statistics().dropped_overflow == 3
            assert [m.get("n") for m in received] == [3, None]
        finally:
            await small.aclose()
