"""The options both Redis layers take (``RedisLayerOptions``): checked alike, and honoured
by each, the pool options included."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest
from redis.asyncio.connection import BlockingConnectionPool

from fast_channels.exceptions import ConfigurationError, UnknownOptionError
from fast_channels.layers.base import BaseChannelLayer
from fast_channels.layers.in_memory import InMemoryChannelLayer
from fast_channels.layers.redis import (
    RedisChannelLayer,
    RedisLayerOptions,
    RedisPubSubChannelLayer,
)
from fast_channels.layers.redis._connection import require_redis_py
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis

RedisLayer = type[RedisChannelLayer] | type[RedisPubSubChannelLayer]
BOTH = pytest.mark.parametrize("layer_class", [RedisChannelLayer, RedisPubSubChannelLayer])


@BOTH
@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"bogus": 1}, TypeError, r"\(\) got an unexpected keyword argument 'bogus'"),
        ({"decode_responses": True}, TypeError, "decode_responses"),
        ({"socket_keepalive": True}, TypeError, "socket_keepalive"),
        ({"hosts": ["redis://x"], "sentinels": [("x", 1)]}, ConfigurationError, "not both"),
        ({"sentinels": [("x", 1)]}, ConfigurationError, "service_name"),
        ({"prefix": "has:colon"}, ConfigurationError, "prefix"),
        ({"capacity": 0}, ConfigurationError, "capacity"),
        ({"max_connections": 0}, ConfigurationError, "max_connections"),
        ({"max_connections": True}, ConfigurationError, "max_connections"),
        ({"max_connections": 2.5}, ConfigurationError, "max_connections"),
        ({"pool_timeout": 0}, ConfigurationError, "pool_timeout"),
        ({"pool_timeout": "10"}, ConfigurationError, "pool_timeout"),
        ({"socket_timeout": -1}, ConfigurationError, "socket_timeout"),
        ({"socket_timeout": None}, ConfigurationError, "socket_timeout"),
    ],
)
def test_bad_options(
    layer_class: RedisLayer, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        layer_class(**options)


@BOTH
def test_an_unknown_option_names_the_layer(layer_class: RedisLayer) -> None:
    options: dict[str, Any] = {"hosts": ["redis://localhost:6379"], "bogus": 1}
    with pytest.raises(TypeError, match=rf"^{layer_class.__name__}\(\) .* 'bogus'"):
        layer_class(**options)


@pytest.mark.parametrize(
    ("layer_class", "typo", "nearest"),
    [
        (RedisChannelLayer, "hots", "hosts"),
        (RedisPubSubChannelLayer, "hots", "hosts"),
        (RedisPubSubChannelLayer, "overflw", "overflow"),
        (RedisChannelLayer, "receive_bach", "receive_batch"),
        (InMemoryChannelLayer, "capcity", "capacity"),
    ],
)
def test_an_option_typo_names_the_layer_and_the_nearest_option(
    layer_class: type[BaseChannelLayer], typo: str, nearest: str
) -> None:
    options: dict[str, Any] = {typo: 1}
    with pytest.raises(UnknownOptionError) as caught:
        layer_class(**options)
    message = str(caught.value)
    assert message.startswith(f"{layer_class.__name__}() got an unexpected keyword argument")
    assert f"{typo!r} (did you mean {nearest!r}?)" in message
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, ConfigurationError)


@BOTH
@pytest.mark.parametrize(
    ("hosts", "match"),
    [
        (["redis://localhost:6379/abc"], "a database is a number"),
        (["redis://localhost:6379/-1"], "database number must be an int >= 0"),
        (["redis://localhost:port/0"], "is not valid"),
        (["redis://localhost:6379/0?pasword=x"], "'pasword'"),
        ([{"host": "localhost", "db": "one"}], "database number"),
    ],
)
def test_a_bad_redis_address_is_refused_at_construction(
    layer_class: RedisLayer, hosts: list[Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        layer_class(hosts=hosts)


@BOTH
def test_a_misspelt_connection_keyword_is_refused_at_construction(
    layer_class: RedisLayer,
) -> None:
    with pytest.raises(ConfigurationError, match="'pasword'"):
        layer_class(connection_kwargs={"pasword": "secret"})


@BOTH
def test_the_shared_options_and_their_defaults(layer_class: RedisLayer) -> None:
    layer = layer_class()
    assert layer.prefix == "asgi"
    assert (layer.capacity, layer.expiry, layer.group_expiry) == (100, 60.0, 86400.0)
    connection = layer.connection
    assert (connection.max_connections, connection.pool_timeout) == (64, 10.0)
    assert connection.socket_timeout == 5.0


def test_a_redis_py_older_than_the_floor_is_refused_with_what_to_install() -> None:
    with pytest.raises(ConfigurationError, match=r"need redis-py >= 5\.3\.0, but 5\.2\.1"):
        require_redis_py("5.2.1")
    require_redis_py("5.3.0")


def test_the_older_attribute_names_still_work() -> None:
    queue = RedisChannelLayer(receive_batch=7)
    assert queue.conn is queue.connection
    assert queue.receive_batch == 7
    assert RedisPubSubChannelLayer(prefix="p").prefix == "p"


@BOTH
async def test_the_pool_options_reach_the_pools(
    layer_class: RedisLayer, redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    options: RedisLayerOptions = {
        "hosts": [redis_server.url],
        "prefix": prefix_for(request, layer_class.__name__),
        "max_connections": 3,
        "pool_timeout": 0.5,
        "socket_timeout": 2,
    }
    async with layer_class(**options) as layer:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "ping"})
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "ping"}
        pool = layer.connection.client().connection_pool
        assert isinstance(pool, BlockingConnectionPool)
        assert (pool.max_connections, pool.timeout) == (3, 0.5)
        assert pool.connection_kwargs["socket_timeout"] == 2.0
        assert pool.connection_kwargs["socket_connect_timeout"] == 2.0
        await layer.flush()


@BOTH
def test_one_connection_per_loop_is_refused(layer_class: RedisLayer) -> None:
    """The reader (queue) or subscriber (pub/sub) keeps one connection of each loop's pool:
    with max_connections=1 nothing could ever be sent, so it is refused up front."""
    with pytest.raises(ConfigurationError, match="max_connections must be at least"):
        layer_class(max_connections=1)


def test_the_queue_layer_needs_a_connection_for_its_named_channels_too() -> None:
    """Its inbox reader and command pipe keep one each: with two, a named channel's
    receive could never get one (and flush() neither)."""
    with pytest.raises(ConfigurationError, match="at least 3 for RedisChannelLayer"):
        RedisChannelLayer(max_connections=2)
    RedisPubSubChannelLayer(max_connections=2)
    RedisChannelLayer(max_connections=3)


async def test_an_int_subclass_capacity_reaches_redis_as_a_number(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """hiredis refuses int subclasses (an IntEnum capacity): the layer keeps plain ints, and
    the command encoder falls back to its own encoding for anything hiredis refuses."""

    class Size(enum.IntEnum):
        SMALL = 5

    async with RedisChannelLayer(
        hosts=[redis_server.url],
        prefix=prefix_for(request),
        capacity=Size.SMALL,
        channel_capacity={"jobs*": Size.SMALL},
    ) as layer:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "a"})
        await layer.send("jobs", {"type": "b"})
        assert (await layer.receive(channel))["type"] == "a"
        assert (await layer.receive("jobs"))["type"] == "b"
        await layer.flush()
