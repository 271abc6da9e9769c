"""Every transport (one server, two shards, Sentinel, a Redis Cluster) does what the Redis
layers need from "where the data lives", against real servers."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncGenerator

import pytest

from fast_channels.exceptions import LayerClosedError, LayerConnectionError
from fast_channels.layers.redis._connection import RedisConnection
from fast_channels.layers.redis.transport import Link, Placement, Pop, SingleNode
from fast_channels.layers.redis.transport._link import NodeLink
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.layers.redis.transport.conftest import (
    INCR,
    OPTIONS,
    PUSH,
    SCRIPTS,
    SET,
    RecordingSink,
    Setup,
    eventually,
)
from tests.servers import free_port

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def opened(setup: Setup, *, limits: bool = False) -> AsyncGenerator[Link]:
    link = setup.transport.link(scripts=SCRIPTS, limits=limits)
    try:
        yield link
    finally:
        await link.aclose()


def keys_of(placement: Placement, prefix: str, suffix: str) -> list[str]:
    """One key per bucket."""
    return [placement.key_prefix(prefix, b) + suffix for b in range(placement.buckets)]


async def test_a_script_runs_on_the_server_serving_its_bucket(
    setup: Setup, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    async with opened(setup) as link:
        for bucket, key in enumerate(keys_of(link.placement, prefix, "x")):
            assert await link.script(bucket, SET, (key,), (f"v{bucket}",)) == f"v{bucket}".encode()
            assert await raw(await setup.url(link, bucket), "GET", key) == f"v{bucket}".encode()
        await link.delete_matching(f"{prefix}:*")


async def test_a_fan_out_takes_one_round_trip_per_server(
    setup: Setup, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    async with opened(setup) as link:
        buckets = range(link.placement.buckets)
        for bucket in buckets:
            await link.ready(bucket)
        servers = {link.where(bucket) for bucket in buckets}
        before = link.statistics()
        calls = [
            (b, INCR, (key,), ()) for b, key in enumerate(keys_of(link.placement, prefix, "n"))
        ]
        assert await link.fan_out(calls) == [1] * len(calls)
        after = link.statistics()
        assert after["commands"] - before["commands"] == len(calls)
        assert after["round_trips"] - before["round_trips"] == len(servers)
        await link.delete_matching(f"{prefix}:*")


async def test_submitted_scripts_run_in_order(setup: Setup, request: pytest.FixtureRequest) -> None:
    prefix = prefix_for(request)
    async with opened(setup) as link:
        key = link.placement.key_prefix(prefix, 0) + "list"
        futures = [link.submit(0, PUSH, (key,), (str(i),)) for i in range(20)]
        assert await asyncio.gather(*futures) == list(range(1, 21))
        assert await raw(await setup.url(link, 0), "LRANGE", key, 0, -1) == [
            str(i).encode() for i in range(20)
        ]
        await link.delete_matching(f"{prefix}:*")
        assert await raw(await setup.url(link, 0), "EXISTS", key) == 0


async def test_a_blocking_pop_takes_what_was_pushed_and_waits_for_more(
    setup: Setup, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    async with opened(setup) as link:
        bucket = link.placement.buckets - 1
        key = link.placement.key_prefix(prefix, bucket) + "inbox"
        pop = link.pop(bucket, key, block=0.05)
        try:
            assert await pop.pop(10) == []
            await link.script(bucket, PUSH, (key,), ("a", "b", "c"))
            assert await pop.pop(2) == [b"a", b"b"]
            await pop.push_back([b"a", b"b"])
            waiting = asyncio.ensure_future(pop.pop(5))
            assert await waiting == [b"a", b"b", b"c"]
            later = asyncio.ensure_future(_pop_until_some(pop))
            await link.script(bucket, PUSH, (key,), ("d",))
            assert await later == [b"d"]
        finally:
            await pop.release()


async def _pop_until_some(pop: Pop) -> list[bytes]:
    while True:
        entries = await pop.pop(5)
        if entries:
            return entries


async def test_a_published_message_reaches_the_subscription_of_its_bucket(
    setup: Setup, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    sink = RecordingSink()
    async with opened(setup, limits=True) as link:
        subscriptions = link.subscriptions(sink)
        try:
            channels = [
                (link.placement.key_prefix(prefix, b) + f"c:room{b}").encode()
                for b in range(link.placement.buckets)
            ]
            for bucket, channel in enumerate(channels):
                await subscriptions.subscribe(channel, bucket)
                assert subscriptions.holds(channel)
            for bucket, channel in enumerate(channels):
                assert await link.publish(bucket, channel, b"hello %d" % bucket) == 1
            await eventually(lambda: len(sink.messages) == len(channels))
            assert sorted(sink.messages) == sorted(
                (channel, b"hello %d" % bucket) for bucket, channel in enumerate(channels)
            )
            subscriptions.unsubscribe(channels[0])
            await subscriptions.sync()
            assert await link.publish(0, channels[0], b"unheard") == 0
            assert subscriptions.statistics()["subscriptions"] == len(channels) - 1
        finally:
            await subscriptions.aclose()
        assert sink.resyncs == []


async def test_a_killed_subscriber_connection_is_reported_once_subscribed_again(
    setup: Setup, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    sink = RecordingSink()
    async with opened(setup) as link:
        subscriptions = link.subscriptions(sink)
        try:
            channel = (link.placement.key_prefix(prefix, 0) + "c:killed").encode()
            await subscriptions.subscribe(channel, 0)
            url = await setup.url(link, 0)
            await raw(url, "CLIENT", "KILL", "TYPE", "pubsub")
            await eventually(lambda: sink.resynced(channel))
            assert "was lost" in sink.resyncs[0][1]
            await eventually(lambda: subscriptions.holds(channel))
            assert await link.publish(0, channel, b"after") == 1
            await eventually(lambda: sink.got(channel, b"after"))
            assert subscriptions.statistics()["reconnects"] >= 1
        finally:
            await subscriptions.aclose()


async def test_closed_subscriptions_refuse_to_subscribe(setup: Setup) -> None:
    async with opened(setup) as link:
        subscriptions = link.subscriptions(RecordingSink())
        await subscriptions.aclose()
        with pytest.raises(LayerClosedError):
            await subscriptions.subscribe(b"x", 0)


async def test_an_unreachable_server_fails_calls_and_subscriptions_with_a_typed_error() -> None:
    transport = SingleNode({"host": "127.0.0.1", "port": free_port()}, options=OPTIONS)
    link = transport.link(scripts=SCRIPTS)
    subscriptions = link.subscriptions(RecordingSink())
    try:
        with pytest.raises(LayerConnectionError):
            await link.script(0, INCR, ("k",), ())
        with pytest.raises(LayerConnectionError):
            await subscriptions.subscribe(b"c", 0)
        assert subscriptions.statistics()["subscriptions"] == 0
    finally:
        await subscriptions.aclose()
        await link.aclose()


def test_shards_place_names_where_the_layers_always_have() -> None:
    connection = RedisConnection(hosts=["redis://127.0.0.1:1", "redis://127.0.0.1:2"])
    placement = Placement(2, ("", ""))
    for i in range(500):
        name = f"chat-{i}!abc{i}" if i % 3 else f"group-{i}"
        assert placement.bucket_of(name) == connection.shard_for(name)
        assert placement.bucket_of(name) == zlib.crc32(name.split("!")[0].encode()) % 2


def test_a_link_is_made_without_any_io(setup: Setup) -> None:
    async def make() -> None:
        link = setup.transport.link()
        assert isinstance(link, NodeLink)
        await link.aclose()

    asyncio.run(make())
