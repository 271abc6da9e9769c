"""The options channels_redis users pass (``CHANNEL_LAYERS[...]["CONFIG"]``) and
``close_pools()``: each is accepted with the meaning it has there, or refused at
construction with a message saying what to use instead; never silently ignored."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from fast_channels.exceptions import ConfigurationError, UnknownOptionError
from fast_channels.layers import GroupOptions
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from fast_channels.layers.redis._channels_redis_pubsub import ChannelsRedisPubSubLayer
from fast_channels.layers.redis._channels_redis_queue import ChannelsRedisQueueLayer
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.layers.redis.test_pubsub_resync import subscriber_ids
from tests.servers import RedisProcess, running_redis

pytestmark = pytest.mark.redis

RedisLayer = type[RedisChannelLayer] | type[RedisPubSubChannelLayer]
BOTH = pytest.mark.parametrize("layer_class", [RedisChannelLayer, RedisPubSubChannelLayer])
WIRES = pytest.mark.parametrize("wire_format", ["fast_channels", "channels_redis"])


def build(layer_class: RedisLayer, **options: Any) -> RedisChannelLayer | RedisPubSubChannelLayer:
    return layer_class(**options)


@BOTH
def test_the_channels_redis_wire_format_makes_a_layer_of_a_subclass(
    layer_class: RedisLayer,
) -> None:
    layer = build(layer_class, wire_format="channels_redis")
    assert isinstance(layer, layer_class)
    assert isinstance(layer, ChannelsRedisQueueLayer | ChannelsRedisPubSubLayer)
    assert layer.wire_format == "channels_redis"
    native = build(layer_class)
    assert type(native) is layer_class
    assert native.wire_format == "fast_channels"


@BOTH
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"wire_format": "channels-redis"}, "wire_format must be"),
        ({"serializer_format": "json"}, "is for wire_format='channels_redis'"),
        ({"serializer_format": "pickle"}, "no counterpart"),
        ({"random_prefix_length": 12}, "needs none: remove it"),
        ({"on_reconnect": ""}, "must name a message type"),
        ({"on_reconnect": 3}, "must name a message type"),
        ({"on_reconnect": "websocket.send"}, "would pass for an event"),
        ({"wire_format": "channels_redis", "serializer_format": "pickle"}, "no counterpart"),
        ({"wire_format": "channels_redis", "symmetric_encryption_keys": "k"}, "list of keys"),
    ],
)
def test_a_channels_redis_option_with_no_meaning_here_is_refused(
    layer_class: RedisLayer, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build(layer_class, **options)


@pytest.mark.parametrize("length", [-1, 2.5, True, "12"])
def test_a_bad_random_prefix_length_is_refused(length: object) -> None:
    with pytest.raises(ConfigurationError, match="random_prefix_length must be an int >= 0"):
        build(RedisChannelLayer, wire_format="channels_redis", random_prefix_length=length)


def test_the_pubsub_wire_of_channels_redis_takes_no_random_prefix() -> None:
    with pytest.raises(ConfigurationError, match="its pub/sub layer stores nothing"):
        build(RedisPubSubChannelLayer, wire_format="channels_redis", random_prefix_length=12)


@BOTH
@WIRES
def test_on_disconnect_is_refused_saying_to_handle_the_reconnect_notice(
    layer_class: RedisLayer, wire_format: str
) -> None:
    with pytest.raises(UnknownOptionError, match="on_reconnect") as caught:
        build(layer_class, wire_format=wire_format, on_disconnect="redis.disconnect")
    assert "layer_reconnected" in str(caught.value)
    with pytest.raises(UnknownOptionError, match="internal"):
        build(layer_class, channel_layer=object())


@BOTH
def test_the_accepted_channels_redis_options(layer_class: RedisLayer) -> None:
    layer = build(layer_class, serializer_format="msgpack", on_reconnect="redis.reconnect")
    assert layer.resync_type == "redis.reconnect"
    compat = build(
        layer_class,
        wire_format="channels_redis",
        serializer_format="json",
        on_reconnect="redis.reconnect",
    )
    assert compat.resync_type == "redis.reconnect"
    assert build(layer_class).resync_type == "layer.reconnected"


def test_a_subclass_cannot_switch_its_wire_format() -> None:
    class Mine(RedisChannelLayer):
        pass

    with pytest.raises(ConfigurationError, match="Mine cannot switch its wire format"):
        build(Mine, wire_format="channels_redis")
    assert type(build(Mine)) is Mine


@WIRES
async def test_on_reconnect_names_the_notice_after_a_lost_subscriber(
    wire_format: str, request: pytest.FixtureRequest
) -> None:
    with running_redis() as server:
        options: dict[str, Any] = {
            "hosts": [server.url],
            "prefix": prefix_for(request),
            "wire_format": wire_format,
            "on_reconnect": "redis.reconnect",
        }
        async with RedisPubSubChannelLayer(**options) as layer:
            channel = await layer.new_channel()
            await layer.group_add("room", channel)
            (subscriber,) = await subscriber_ids(server.url)
            await raw(server.url, "CLIENT", "KILL", "ID", subscriber)
            notice = await asyncio.wait_for(layer.receive(channel), 10)
            assert notice["type"] == "redis.reconnect"
            assert "was lost" in notice["reason"]


async def named_clients(url: str, name: str) -> int:
    listing = cast(bytes, await raw(url, "CLIENT", "LIST")).decode()
    return sum(f" name={name} " in f" {line} " for line in listing.splitlines())


@BOTH
@WIRES
async def test_close_pools_closes_this_loops_connections_and_the_layer_goes_on(
    layer_class: RedisLayer,
    wire_format: str,
    redis_server: RedisProcess,
    request: pytest.FixtureRequest,
) -> None:
    """channels_redis's close_pools(), which tests and shutdown code call: the
    connections of the running loop close, and the next call connects again."""
    name = prefix_for(request, f"{layer_class.__name__}{wire_format}")
    layer = build(
        layer_class,
        hosts=[redis_server.url],
        prefix=name,
        wire_format=wire_format,
        connection_kwargs={"client_name": name},
    )
    try:
        for _ in range(2):
            channel = await layer.new_channel()
            await layer.group_add("room", channel)
            await layer.group_send("room", {"type": "hello"})
            assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "hello"}
            assert await named_clients(redis_server.url, name) > 0
            await layer.close_pools()
            assert await named_clients(redis_server.url, name) == 0
            assert not layer.closed
    finally:
        await layer.flush()
        await layer.aclose()


@BOTH
async def test_close_pools_before_any_use_does_nothing(layer_class: RedisLayer) -> None:
    layer = build(layer_class)
    await layer.close_pools()
    assert not layer.closed


def test_the_channels_redis_queue_layer_decides_on_every_queue_layer_method() -> None:
    """Its transport replaces the queue layer's: every method of RedisChannelLayer is
    overridden, or listed here as reached only through overridden ones (or as shared). A
    method added to RedisChannelLayer must be decided on for channels_redis's format."""
    unused_by_the_wire = {
        "_state",
        "_forget",
        "_watch_shard",
        "_ensure_watcher",
        "_watch",
        "_recover",
        "_submit_acks",
        "_decode_group",
        "_start_reading",
        "_inbox_reader",
        "_stopped_reading",
        "_receive_named",
        "_group_keys",
        "_membership",
        # history and presence: refused with this format (test below)
        "_group_send_args",
        "_group_delivery",
        "_loop_pipes",
    }
    shared = {"__init__", "token"}
    methods = {
        name
        for name, value in vars(RedisChannelLayer).items()
        if callable(value) or isinstance(value, property)
    }
    undecided = methods - set(vars(ChannelsRedisQueueLayer)) - unused_by_the_wire - shared
    assert not undecided, f"decide how wire_format='channels_redis' does {sorted(undecided)}"


@pytest.mark.parametrize("layer_class", [RedisChannelLayer, RedisPubSubChannelLayer])
async def test_history_and_presence_are_refused_with_channels_redis_format(
    layer_class: type[RedisChannelLayer] | type[RedisPubSubChannelLayer],
    redis_server: RedisProcess,
) -> None:
    with pytest.raises(ConfigurationError, match="group_options"):
        layer_class(
            hosts=["redis://127.0.0.1:1"],
            wire_format="channels_redis",
            group_options={"room.*": GroupOptions(history_size=10)},
        )
    layer = layer_class(hosts=[redis_server.url], wire_format="channels_redis")
    with pytest.raises(ConfigurationError, match="presence"):
        await layer.presence_join("room", "worker", info={"user": 1})
    await layer.aclose()
