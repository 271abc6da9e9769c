"""Pub/sub subscriptions over a transport: shared confirmations, a restarted server, a
refused subscription, on one real server (the sharded case is in test_cluster)."""

from __future__ import annotations

import asyncio

import pytest

from fast_channels.exceptions import BackendAuthenticationError, LayerConnectionError
from fast_channels.layers.redis.transport import SingleNode, Subscriptions
from fast_channels.layers.redis.transport._link import NodeLink, PoolOptions
from tests.layers.redis.queue_helpers import raw
from tests.layers.redis.transport.conftest import OPTIONS, RecordingSink, eventually
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis


def link_to(server: RedisProcess, options: PoolOptions = OPTIONS) -> NodeLink:
    return SingleNode({"host": "127.0.0.1", "port": server.port}, options=options).link()


async def test_concurrent_subscribers_share_one_confirmed_subscription(
    own_redis: RedisProcess,
) -> None:
    link, sink = link_to(own_redis), RecordingSink()
    subscriptions: Subscriptions = link.subscriptions(sink)
    try:
        await asyncio.gather(*(subscriptions.subscribe(b"shared", 0) for _ in range(5)))
        assert subscriptions.holds(b"shared")
        subscriptions.unsubscribe(b"shared")
        await subscriptions.subscribe(b"shared", 0)  # confirmed by its own reply
        assert await link.publish(0, b"shared", b"once") == 1
        await subscriptions.sync()
        assert sink.messages == [(b"shared", b"once")]
        assert subscriptions.statistics()["subscriptions"] == 1
    finally:
        await subscriptions.aclose()
        await link.aclose()


async def test_a_restarted_server_gets_the_subscriptions_back_and_the_gap_is_reported(
    own_redis: RedisProcess,
) -> None:
    link, sink = link_to(own_redis), RecordingSink()
    subscriptions = link.subscriptions(sink)
    try:
        await subscriptions.subscribe(b"kept", 0)
        own_redis.stop()
        with pytest.raises(LayerConnectionError):
            await subscriptions.subscribe(b"while-down", 0)
        own_redis.start()
        await eventually(lambda: sink.resynced(b"kept"))
        await eventually(lambda: subscriptions.holds(b"kept"))
        assert not subscriptions.holds(b"while-down")
        assert await link.publish(0, b"kept", b"back") == 1
        await eventually(lambda: sink.got(b"kept", b"back"))
    finally:
        await subscriptions.aclose()
        await link.aclose()


async def test_a_subscription_the_acl_forbids_fails_with_an_authentication_error(
    own_redis: RedisProcess,
) -> None:
    await raw(
        own_redis.url, "ACL", "SETUSER", "limited", "on", ">secret", "~*", "&allowed*", "+@all"
    )
    options = PoolOptions(
        socket_timeout=2.0, connection_kwargs={"username": "limited", "password": "secret"}
    )
    link, sink = link_to(own_redis, options), RecordingSink()
    subscriptions = link.subscriptions(sink)
    try:
        await subscriptions.subscribe(b"allowed-1", 0)
        with pytest.raises(BackendAuthenticationError, match="ACL permissions"):
            await subscriptions.subscribe(b"forbidden", 0)
        assert subscriptions.holds(b"allowed-1")
    finally:
        await subscriptions.aclose()
        await link.aclose()
