"""Every channel layer the contract suite runs over, and how to make one.

A backend registers one ``LayerKind`` per configuration to test (single host, sharded,
through Sentinel, ...). ``make(options)`` returns an async context manager yielding a
fresh, flushed layer built with those extra keyword options.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fast_channels.layers import BaseChannelLayer, InMemoryChannelLayer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from tests.servers import RedisProcess

LayerFactory = Callable[[pytest.FixtureRequest, dict[str, Any]], BaseChannelLayer]


@dataclass(frozen=True)
class LayerKind:
    name: str
    factory: LayerFactory
    persistent: bool = True
    """Messages to a named channel wait for a receiver that comes later."""
    shared: bool = True
    """Two layer objects built alike reach the same channels (a real backend)."""
    sender_sees_full: bool = True
    """``send`` to a full channel raises ``ChannelFull``. False for pub/sub, where capacity
    is the receiving process's mailbox and its ``overflow=`` policy decides (counted)."""
    shared_sets: bool = False
    """The ``!`` channels of one layer object share one store in Redis (channels_redis's
    queue format): one capacity for all, and a message that cannot be decrypted cannot be
    told apart by channel."""
    history_and_presence: bool = True
    """Keeps group history and presence (channels_redis's wire format refuses both)."""
    marks: tuple[pytest.MarkDecorator, ...] = ()

    @contextlib.asynccontextmanager
    async def make(
        self, request: pytest.FixtureRequest, **options: Any
    ) -> AsyncGenerator[BaseChannelLayer]:
        layer = self.factory(request, options)
        await layer.flush()
        try:
            yield layer
        finally:
            if not layer.closed:
                await layer.flush()
            await layer.aclose()


def _in_memory(request: pytest.FixtureRequest, options: dict[str, Any]) -> BaseChannelLayer:
    return InMemoryChannelLayer(**options)


def _redis_pubsub(request: pytest.FixtureRequest, options: dict[str, Any]) -> BaseChannelLayer:
    server: RedisProcess = request.getfixturevalue("redis_server")
    options.setdefault("prefix", _test_prefix(request))
    return RedisPubSubChannelLayer(hosts=[server.url], **options)


def _redis_pubsub_sharded(
    request: pytest.FixtureRequest, options: dict[str, Any]
) -> BaseChannelLayer:
    one: RedisProcess = request.getfixturevalue("redis_server")
    two: RedisProcess = request.getfixturevalue("redis_server_2")
    options.setdefault("prefix", _test_prefix(request))
    return RedisPubSubChannelLayer(hosts=[one.url, ("127.0.0.1", two.port)], **options)


def _redis_pubsub_sentinel(
    request: pytest.FixtureRequest, options: dict[str, Any]
) -> BaseChannelLayer:
    sentinel: RedisProcess = request.getfixturevalue("redis_sentinel")
    options.setdefault("prefix", _test_prefix(request))
    return RedisPubSubChannelLayer(
        sentinels=[("127.0.0.1", sentinel.port)], service_name="mymaster", **options
    )


def _pubsub_kind(
    name: str, factory: LayerFactory, *, history_and_presence: bool = True
) -> LayerKind:
    return LayerKind(
        name,
        factory,
        persistent=False,
        sender_sees_full=False,
        history_and_presence=history_and_presence,
        marks=(pytest.mark.redis,),
    )


def _test_prefix(request: pytest.FixtureRequest) -> str:
    """One prefix per test, so layers of one test share data and tests never do."""
    return "q" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]


def _redis_queue(request: pytest.FixtureRequest, options: dict[str, Any]) -> BaseChannelLayer:
    server: RedisProcess = request.getfixturevalue("redis_server")
    options.setdefault("prefix", _test_prefix(request))
    return RedisChannelLayer(hosts=[server.url], **options)


def _redis_queue_sharded(
    request: pytest.FixtureRequest, options: dict[str, Any]
) -> BaseChannelLayer:
    one: RedisProcess = request.getfixturevalue("redis_server")
    two: RedisProcess = request.getfixturevalue("redis_server_2")
    options.setdefault("prefix", _test_prefix(request))
    return RedisChannelLayer(hosts=[one.url, two.url], **options)


def _redis_queue_sentinel(
    request: pytest.FixtureRequest, options: dict[str, Any]
) -> BaseChannelLayer:
    sentinel: RedisProcess = request.getfixturevalue("redis_sentinel")
    options.setdefault("prefix", _test_prefix(request))
    return RedisChannelLayer(
        sentinels=[("127.0.0.1", sentinel.port)], service_name="mymaster", **options
    )


def _channels_redis_wire(layer_factory: LayerFactory) -> LayerFactory:
    """``layer_factory``'s layer with ``wire_format="channels_redis"``."""

    def factory(request: pytest.FixtureRequest, options: dict[str, Any]) -> BaseChannelLayer:
        options.setdefault("wire_format", "channels_redis")
        return layer_factory(request, options)

    return factory


KINDS: list[LayerKind] = [
    LayerKind("in_memory", _in_memory, shared=False),
    LayerKind("redis_queue", _redis_queue, marks=(pytest.mark.redis,)),
    LayerKind("redis_queue_sharded", _redis_queue_sharded, marks=(pytest.mark.redis,)),
    LayerKind("redis_queue_sentinel", _redis_queue_sentinel, marks=(pytest.mark.redis,)),
    _pubsub_kind("redis_pubsub", _redis_pubsub),
    _pubsub_kind("redis_pubsub_sharded", _redis_pubsub_sharded),
    _pubsub_kind("redis_pubsub_sentinel", _redis_pubsub_sentinel),
    LayerKind(
        "redis_queue_channels_redis",
        _channels_redis_wire(_redis_queue_sharded),
        shared_sets=True,
        history_and_presence=False,
        marks=(pytest.mark.redis,),
    ),
    _pubsub_kind(
        "redis_pubsub_channels_redis",
        _channels_redis_wire(_redis_pubsub_sharded),
        history_and_presence=False,
    ),
]
