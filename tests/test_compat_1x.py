"""fast-channels 1.x code keeps working: every 1.x import path and name, and a layer
written against 1.x's ``BaseChannelLayer``, used through the registry and a consumer."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import re
import uuid
from collections import defaultdict
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from fast_channels import exceptions
from fast_channels.consumer import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from fast_channels.consumer.base import get_handler_name
from fast_channels.exceptions import (
    AcceptConnection,
    ChannelFull,
    ConfigurationError,
    DecryptionError,
    InvalidChannelLayerError,
    InvalidChannelNameError,
    InvalidGroupNameError,
    LayerAlreadyRegisteredError,
    LayerNotRegisteredError,
    MessageTooLarge,
    UnknownMessageTypeError,
)
from fast_channels.layers import (
    BaseChannelLayer,
    ChannelLayerRegistry,
    channel_layers,
    get_channel_layer,
    has_layers,
    register_channel_layer,
)
from fast_channels.layers.redis._connection import RedisConnection
from fast_channels.layers.redis._inbox import Commands
from fast_channels.layers.redis.serializers import (
    BaseMessageSerializer,
    JSONSerializer,
    MsgPackSerializer,
    SerializerDoesNotExist,
    registry,
)
from fast_channels.layers.redis.utils import (
    close_redis,
    consistent_hash,
    create_pool,
    decode_hosts,
)
from fast_channels.middleware import BaseMiddleware
from fast_channels.middleware.websocket import OriginValidator, WebsocketDenier
from fast_channels.serialization import make_serializer
from fast_channels.testing import WebsocketCommunicator
from fast_channels.type_defs import ASGIApplicationProtocol, ChannelMessage
from fast_channels.types import Message, Receive, Scope, Send
from fast_channels.utils import await_many_dispatch, is_same_domain
from tests.servers import RedisProcess

# Every fast-channels 1.x module path and the public names it had (1.1.0).
V1_NAMES: dict[str, list[str]] = {
    "fast_channels.consumer": [
        "AsyncConsumer",
        "AsyncHttpConsumer",
        "AsyncJsonWebsocketConsumer",
        "AsyncWebsocketConsumer",
    ],
    "fast_channels.consumer.base": ["AsyncConsumer", "get_handler_name"],
    "fast_channels.consumer.http": ["AsyncHttpConsumer"],
    "fast_channels.consumer.websocket": ["AsyncJsonWebsocketConsumer", "AsyncWebsocketConsumer"],
    "fast_channels.exceptions": [
        "AcceptConnection",
        "ChannelFull",
        "DenyConnection",
        "InvalidChannelLayerError",
        "MessageTooLarge",
        "StopConsumer",
    ],
    "fast_channels.layers": [
        "BaseChannelLayer",
        "ChannelLayerRegistry",
        "InMemoryChannelLayer",
        "channel_layers",
        "get_channel_layer",
        "has_layers",
        "register_channel_layer",
        "unregister_channel_layer",
    ],
    "fast_channels.layers.base": ["BaseChannelLayer"],
    "fast_channels.layers.in_memory": ["InMemoryChannelLayer"],
    "fast_channels.layers.registry": [
        "ChannelLayerRegistry",
        "channel_layers",
        "get_channel_layer",
        "has_layers",
        "register_channel_layer",
        "unregister_channel_layer",
    ],
    "fast_channels.layers.redis": ["RedisChannelLayer", "RedisPubSubChannelLayer"],
    "fast_channels.layers.redis.core": ["ChannelFull", "RedisChannelLayer"],
    "fast_channels.layers.redis.pubsub": ["RedisPubSubChannelLayer"],
    "fast_channels.layers.redis.serializers": [
        "BaseMessageSerializer",
        "JSONSerializer",
        "MsgPackSerializer",
        "SerializerDoesNotExist",
        "SerializersRegistry",
        "registry",
    ],
    "fast_channels.layers.redis.type_defs": [
        "ChannelDecodedRedisHost",
        "ChannelRawRedisHost",
        "SymmetricEncryptionKeys",
    ],
    "fast_channels.layers.redis.utils": [
        "close_redis",
        "consistent_hash",
        "create_pool",
        "decode_hosts",
    ],
    "fast_channels.middleware": ["BaseMiddleware", "OriginValidator", "WebsocketDenier"],
    "fast_channels.middleware.base": ["BaseMiddleware"],
    "fast_channels.middleware.websocket": ["OriginValidator", "WebsocketDenier"],
    "fast_channels.testing": [
        "ApplicationCommunicator",
        "HttpCommunicator",
        "WebsocketCommunicator",
    ],
    "fast_channels.testing.application": ["ApplicationCommunicator"],
    "fast_channels.testing.http": ["HttpCommunicator"],
    "fast_channels.testing.websocket": ["WebsocketCommunicator"],
    "fast_channels.type_defs": [
        "ASGI3Application",
        "ASGIApplication",
        "ASGIApplicationProtocol",
        "ASGIReceiveCallable",
        "ASGISendCallable",
        "ChannelApplication",
        "ChannelCapacityDict",
        "ChannelCapacityPattern",
        "ChannelHeaders",
        "ChannelMessage",
        "ChannelScope",
        "CompiledChannelCapacities",
        "CompiledChannelCapacity",
        "HttpDisconnectEvent",
        "HttpRequestEvent",
        "HttpResponseBodyEvent",
        "HttpResponseStartEvent",
        "MiddlewareProtocol",
        "WebSocketAcceptEvent",
        "WebSocketCloseEvent",
        "WebSocketConnectEvent",
        "WebSocketDisconnectEvent",
        "WebSocketReceiveEvent",
    ],
    "fast_channels.utils": ["await_many_dispatch", "is_same_domain"],
}


@pytest.mark.parametrize("module_name", sorted(V1_NAMES))
def test_every_v1_path_and_name_imports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in V1_NAMES[module_name] if not hasattr(module, name)]
    assert not missing, f"{module_name} lacks 1.x names {missing}"


def test_compatibility_names_are_the_objects_themselves() -> None:
    """Aliases, not second implementations."""
    from fast_channels.layers.redis import RedisChannelLayer
    from fast_channels.layers.redis.core import ChannelFull as CoreChannelFull
    from fast_channels.layers.redis.core import RedisChannelLayer as CoreRedisChannelLayer
    from fast_channels.middleware.base import BaseMiddleware as V1BaseMiddleware
    from fast_channels.type_defs import ASGIApplication, ChannelScope
    from fast_channels.types import ASGIApp

    assert CoreRedisChannelLayer is RedisChannelLayer
    assert CoreChannelFull is ChannelFull
    assert V1BaseMiddleware is BaseMiddleware
    assert InvalidChannelLayerError is ConfigurationError
    assert MessageTooLarge is exceptions.MessageTooLargeError
    assert ChannelScope is Scope
    assert ASGIApplication is ASGIApp
    assert ChannelMessage is Message


# -- a layer written against 1.x's BaseChannelLayer ------------------------------------


class ListLayer(BaseChannelLayer):
    """What a 1.x user wrote: the public methods, over asyncio queues, with 1.x's helpers."""

    extensions = ["groups", "flush"]

    def __init__(self, capacity: int = 100, channel_capacity: Any = None) -> None:
        super().__init__(capacity=capacity, channel_capacity=channel_capacity)
        self.queues: dict[str, asyncio.Queue[Message]] = {}
        self.members: defaultdict[str, set[str]] = defaultdict(set)
        self.closed_by_close = False

    def _queue(self, channel: str) -> asyncio.Queue[Message]:
        return self.queues.setdefault(channel, asyncio.Queue(self.get_capacity(channel)))

    async def send(self, channel: str, message: ChannelMessage) -> None:
        assert self.require_valid_channel_name(channel)
        queue = self._queue(channel)
        if queue.full():
            raise ChannelFull(channel)
        queue.put_nowait(message)

    async def receive(self, channel: str) -> ChannelMessage:
        assert self.require_valid_channel_name(self.non_local_name(channel))
        return await self._queue(channel).get()

    async def new_channel(self, prefix: str = "specific.") -> str:
        return f"{prefix}list!{uuid.uuid4().hex}"

    async def group_add(self, group: str, channel: str) -> None:
        assert self.require_valid_group_name(group)
        self.members[group].add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.members[group].discard(channel)

    async def group_send(self, group: str, message: ChannelMessage) -> None:
        for channel in self.members[group]:
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)

    async def flush(self) -> None:
        self.queues.clear()
        self.members.clear()

    async def close(self) -> None:
        self.closed_by_close = True


class RoomConsumer(AsyncJsonWebsocketConsumer):
    groups = ["room"]

    async def receive_json(self, content: Any) -> None:
        await self.channel_layer.group_send("room", {"type": "room.message", "text": content})

    async def room_message(self, message: Message) -> None:
        await self.send_json(message["text"])


async def test_a_v1_layer_serves_consumers_through_the_registry() -> None:
    layer = ListLayer()
    register_channel_layer("default", layer)
    assert has_layers()
    assert get_channel_layer() is layer
    app = RoomConsumer.as_asgi()
    async with WebsocketCommunicator(app, "/") as alice, WebsocketCommunicator(app, "/") as bob:
        await alice.connect()
        await bob.connect()
        await alice.send_json_to("hi")
        assert await alice.receive_json_from() == "hi"
        assert await bob.receive_json_from() == "hi"
    assert layer.members["room"] == set()
    await layer.aclose()
    assert layer.closed_by_close
    assert layer.closed


def test_v1_capacity_and_name_helpers() -> None:
    layer = ListLayer(capacity=3, channel_capacity={"big.*": 10, re.compile(r"^tiny"): 1})
    assert [layer.get_capacity(c) for c in ("x", "big.one", "tiny")] == [3, 10, 1]
    layer.channel_capacity = layer.compile_capacities({"x": 7})
    assert [pattern.pattern for pattern, _ in layer.channel_capacity] == [r"(?s:x)\Z"]
    assert layer.get_capacity("x") == 7
    assert layer.non_local_name("specific.abc!def") == "specific.abc!"
    assert layer.non_local_name("plain") == "plain"
    assert layer.match_type_and_length("a" * 99)
    assert not layer.match_type_and_length("a" * 100)
    assert not layer.match_type_and_length(b"bytes")
    assert layer.invalid_name_error.format("Group").startswith("Group name must be")


@pytest.mark.parametrize(
    "name", ["ok", "a.b-c_d", "x!", "x!y", "x!!", "bad name", "é", "a\n", "", "!x", "a" * 100]
)
def test_v1_regexes_agree_with_the_naming_rules(name: str) -> None:
    layer = ListLayer()
    try:
        BaseChannelLayer.require_valid_channel_name(name)
        valid_channel = True
    except InvalidChannelNameError:
        valid_channel = False
    try:
        BaseChannelLayer.require_valid_group_name(name)
        valid_group = True
    except InvalidGroupNameError:
        valid_group = False
    short = layer.match_type_and_length(name)
    assert valid_channel == (short and bool(layer.channel_name_regex.match(name)))
    assert valid_group == (short and bool(layer.group_name_regex.match(name)))


def test_require_valid_channel_name_for_receive() -> None:
    layer = ListLayer()
    assert layer.require_valid_channel_name("specific.x!", receive=True) == "specific.x!"
    assert layer.require_valid_channel_name("specific.x!abc") == "specific.x!abc"
    with pytest.raises(InvalidChannelNameError, match="must end at its '!'"):
        layer.require_valid_channel_name("specific.x!abc", receive=True)


async def test_a_v1_layer_without_groups_raises_not_implemented() -> None:
    class NoGroups(BaseChannelLayer):
        async def send(self, channel: str, message: ChannelMessage) -> None:
            pass

    layer = NoGroups()
    with pytest.raises(NotImplementedError, match=r"neither group_add\(\) nor its transport"):
        await layer.group_add("g", "c")
    await layer.aclose()  # nothing to release, no close() of its own


def test_the_v1_registry_object() -> None:
    layer = ListLayer()
    channel_layers.register("extra", layer)
    assert "extra" in channel_layers
    assert len(channel_layers) == 1
    assert channel_layers["extra"] is layer
    assert channel_layers.get("missing") is None
    assert channel_layers.list_aliases() == ["extra"]
    with pytest.raises(LayerAlreadyRegisteredError):
        channel_layers.register("extra", ListLayer())
    with pytest.raises(LayerNotRegisteredError, match="registered: 'extra'"):
        channel_layers["missing"]
    assert channel_layers.unregister("extra") is layer
    channel_layers.register("again", layer)
    channel_layers.clear()
    assert not has_layers()
    private = ChannelLayerRegistry()
    private.register("default", layer)
    assert channel_layers.get("default") is None


# -- serializers -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_registered_serializers_round_trip(fmt: str) -> None:
    serializer = registry.get_serializer(fmt, random_prefix_length=12)
    data = serializer.serialize({"type": "chat.message", "text": "hi"})
    assert serializer.deserialize(data) == {"type": "chat.message", "text": "hi"}
    assert data != serializer.serialize({"type": "chat.message", "text": "hi"})  # random prefix


def test_encrypted_messages_cross_between_serializers_and_layers() -> None:
    keys = ["new-key", "old-key"]
    ours = make_serializer(["new-key"])
    v1 = MsgPackSerializer(symmetric_encryption_keys=keys)
    message = {"type": "t", "data": b"\x00"}
    assert ours.loads(v1.serialize(message)) == message
    assert (
        MsgPackSerializer(symmetric_encryption_keys=["new-key"]).deserialize(ours.dumps(message))
        == message
    )
    with pytest.raises(DecryptionError):
        MsgPackSerializer(symmetric_encryption_keys=["other"]).deserialize(v1.serialize(message))


def test_serializer_registry_errors_and_custom_serializers() -> None:
    with pytest.raises(SerializerDoesNotExist, match="no serializer is registered as 'yaml'"):
        registry.get_serializer("yaml")
    with pytest.raises(KeyError):
        registry.get_serializer("yaml")
    not_a_serializer: Any = dict
    with pytest.raises(TypeError, match="serialize\\(\\) and deserialize\\(\\)"):
        registry.register_serializer("bad", not_a_serializer)

    class Upper(JSONSerializer):
        def as_bytes(self, message: Message) -> bytes:
            return super().as_bytes(message).upper()

    registry.register_serializer("upper", Upper)
    try:
        assert registry.get_serializer("upper").serialize({"type": "a"}) == b'{"TYPE": "A"}'
    finally:
        registry.register_serializer("upper", JSONSerializer)


def test_serializer_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="list of keys"):
        JSONSerializer(symmetric_encryption_keys="key")
    with pytest.raises(ConfigurationError, match="random_prefix_length"):
        JSONSerializer(random_prefix_length=-1)
    with pytest.raises(exceptions.InvalidMessageError, match="not a message dict"):
        JSONSerializer().deserialize(b"[1]")
    assert isinstance(JSONSerializer(), BaseMessageSerializer)


# -- Redis utils -------------------------------------------------------------------------


@pytest.mark.parametrize("ring_size", [1, 2, 3, 7])
def test_consistent_hash_is_the_layers_sharding(ring_size: int) -> None:
    connection = RedisConnection(hosts=[f"redis://h{i}:6379" for i in range(ring_size)])
    for name in ("chat", "room-1", "specific.abc", "x" * 99):
        assert consistent_hash(name, ring_size) == connection.shard_for(name)
        assert consistent_hash(name.encode(), ring_size) == connection.shard_for(name)
    with pytest.raises(ConfigurationError, match="ring_size"):
        consistent_hash("x", 0)


def test_decode_hosts() -> None:
    assert decode_hosts(None) == [{"address": "redis://localhost:6379"}]
    assert decode_hosts(["redis://a:1", ("b", 2), ["c", 3], {"host": "d", "port": 4, "db": 1}]) == [
        {"address": "redis://a:1"},
        {"host": "b", "port": 2},
        {"host": "c", "port": 3},
        {"host": "d", "port": 4, "db": 1},
    ]
    bad: Any = "redis://a:1"
    with pytest.raises(ConfigurationError, match="list of Redis hosts"):
        decode_hosts(bad)
    with pytest.raises(ConfigurationError, match=r"\[host, port\]"):
        decode_hosts([["c"]])
    with pytest.raises(ConfigurationError, match="must start with redis://"):
        decode_hosts(["http://a"])


@pytest.mark.redis
async def test_create_pool_and_close_redis(redis_server: RedisProcess) -> None:
    for host in decode_hosts([redis_server.url, ("127.0.0.1", redis_server.port)]):
        client = Redis(connection_pool=create_pool(host))
        assert await cast(Commands, client).execute_command("PING") is True
        await close_redis(client)


def test_create_pool_options() -> None:
    pool = create_pool({"address": ("127.0.0.1", 1), "db": 2})
    assert pool.connection_kwargs["db"] == 2
    sentinel_pool = create_pool({"master_name": "m", "sentinels": [("127.0.0.1", 1)]})
    assert sentinel_pool.connection_kwargs.get("db", 0) == 0
    with pytest.raises(ConfigurationError, match="needs sentinels="):
        create_pool({"master_name": "m"})
    not_a_dict: Any = "redis://x"
    with pytest.raises(ConfigurationError, match="takes one host dict"):
        create_pool(not_a_dict)


# -- helpers -----------------------------------------------------------------------------


async def test_await_many_dispatch_passes_results_until_stopped() -> None:
    queues: list[asyncio.Queue[int]] = [asyncio.Queue(), asyncio.Queue()]
    for value in (1, 2):
        queues[0].put_nowait(value)
    queues[1].put_nowait(10)
    seen: list[int] = []

    async def dispatch(value: int) -> None:
        seen.append(value)
        if len(seen) == 3:
            raise exceptions.StopConsumer

    with pytest.raises(exceptions.StopConsumer):
        await await_many_dispatch([queues[0].get, queues[1].get], dispatch)
    assert sorted(seen) == [1, 2, 10]
    with pytest.raises(ValueError, match="at least one callable"):
        await await_many_dispatch([], dispatch)


async def test_await_many_dispatch_reports_a_second_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails_first() -> int:
        raise KeyError("first")

    async def fails_too() -> int:
        raise ValueError("second")

    async def dispatch(value: int) -> None:
        raise AssertionError("nothing to dispatch")

    with pytest.raises(KeyError):
        await await_many_dispatch([fails_first, fails_too], dispatch)
    assert "ValueError('second')" in caplog.text


@pytest.mark.parametrize(
    ("host", "pattern", "same"),
    [
        ("example.com", "example.com", True),
        ("Example.COM", "example.com", True),
        ("a.example.com", ".example.com", True),
        ("example.com", ".example.com", True),
        ("badexample.com", ".example.com", False),
        ("a.example.com", "example.com", False),
        ("example.com", "", False),
    ],
)
def test_is_same_domain(host: str, pattern: str, same: bool) -> None:
    assert is_same_domain(host, pattern) is same


def test_get_handler_name() -> None:
    assert get_handler_name({"type": "chat.message"}) == "chat_message"
    with pytest.raises(UnknownMessageTypeError, match="private name"):
        get_handler_name({"type": "_x"})
    with pytest.raises(UnknownMessageTypeError, match="without a str 'type'"):
        get_handler_name({"text": "no type"})


# -- consumers, middleware and testing ---------------------------------------------------


class Accepter(AsyncWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        if self.scope["path"] == "/headers":
            await self.accept(headers=[[b"x-list", b"1"], (b"x-tuple", b"2")])
            return
        raise AcceptConnection


async def test_accept_connection_and_response_headers() -> None:
    async with WebsocketCommunicator(Accepter, "/", spec_version="2.1") as client:
        assert client.response_headers is None
        assert await client.connect() == (True, None)
        assert client.response_headers == []
        assert client.scope["asgi"]["spec_version"] == "2.1"
        assert await client.receive_nothing(0.01, 0.01)  # 1.x's (timeout, interval)
    async with WebsocketCommunicator(Accepter, "/headers", spec_version=2) as client:
        await client.connect()
        assert client.response_headers == [(b"x-list", b"1"), (b"x-tuple", b"2")]
        assert client.scope["asgi"]["spec_version"] == "2.0"


def test_spec_version_must_be_a_version() -> None:
    with pytest.raises(ValueError, match="spec_version must be an ASGI spec version"):
        WebsocketCommunicator(Accepter, "/", spec_version="two")


async def test_request_headers_as_asgi_lists() -> None:
    class Echo(AsyncJsonWebsocketConsumer):
        channel_layer_alias = None

        async def connect(self) -> None:
            await self.accept()
            await self.send_json([[k.decode(), v.decode()] for k, v in self.scope["headers"]])

    async with WebsocketCommunicator(Echo, "/", headers=[[b"X-A", b"1"]]) as client:
        await client.connect()
        assert await client.receive_json_from() == [["x-a", "1"]]


async def test_websocket_denier_and_1x_attribute_names() -> None:
    async with WebsocketCommunicator(WebsocketDenier, "/") as client:
        assert await client.connect() == (False, 1008)

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    assert BaseMiddleware(inner).inner is inner
    validator = OriginValidator(inner, ["https://example.com"])
    assert validator.application is inner
    assert validator.allowed_origins == ("https://example.com",)


def test_as_asgi_apps_fit_the_v1_application_protocol() -> None:
    app: ASGIApplicationProtocol = RoomConsumer.as_asgi()
    assert app.consumer_class is RoomConsumer
