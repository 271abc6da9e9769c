"""AsyncConsumer: as_asgi, configuration, the layer, dispatch, groups, clean-up."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from fast_channels.consumer import AsyncConsumer, AsyncWebsocketConsumer, ConsumerApp
from fast_channels.exceptions import (
    ConfigurationError,
    ConsumerError,
    InvalidGroupNameError,
    LayerClosedError,
    LayerNotRegisteredError,
    StopConsumer,
    UnknownMessageTypeError,
)
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.testing import ApplicationCommunicator, WebsocketCommunicator
from fast_channels.types import Message, Scope


class Recorder(AsyncWebsocketConsumer):
    """Accepts, reports its channel name, and echoes layer messages of type ``note``."""

    instances: list[Recorder] = []

    async def connect(self) -> None:
        Recorder.instances.append(self)
        await self.accept()
        await self.send(self.channel_name)

    async def note(self, message: Message) -> None:
        await self.send(f"note:{message['text']}")

    async def chat_message(self, message: Message) -> None:
        await self.send(f"chat:{message['text']}")


class NoLayer(AsyncWebsocketConsumer):
    channel_layer_alias = None


class ChannelWorker(AsyncConsumer):
    """A protocol-neutral consumer fed by its layer channel only."""

    groups = ["workers"]
    seen: list[Message] = []

    async def work_item(self, message: Message) -> None:
        ChannelWorker.seen.append(message)

    async def work_stop(self, message: Message) -> None:
        raise StopConsumer


# -- as_asgi and configuration ---------------------------------------------------------


def test_as_asgi_returns_a_named_app_remembering_options() -> None:
    app = Recorder.as_asgi(groups=["a"], channel_layer_alias="other")
    assert isinstance(app, ConsumerApp)
    assert app.consumer_class is Recorder
    assert dict(app.initkwargs) == {"groups": ["a"], "channel_layer_alias": "other"}
    assert app.__name__ == "Recorder"
    assert "Recorder.as_asgi(groups=['a'], channel_layer_alias='other')" in repr(app)


def test_inbox_size_is_deprecated_and_still_accepted() -> None:
    with pytest.warns(DeprecationWarning, match="inbox_size no longer has an effect"):
        app = Recorder.as_asgi(inbox_size=5)
    assert dict(app.initkwargs) == {"inbox_size": 5}
    Recorder.as_asgi(inbox_size=100)  # the default: no warning


@pytest.mark.parametrize(
    "name", ["nonsense", "_layer", "connect", "as_asgi", "send", "base_send", "channel_layer"]
)
def test_as_asgi_rejects_names_that_are_not_class_attributes(name: str) -> None:
    with pytest.raises(TypeError, match=f"got '{name}', which is not a configurable"):
        Recorder.as_asgi(**{name: 1})


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"groups": "room"}, ConfigurationError, "groups must be a list"),
        ({"groups": ["bad name"]}, InvalidGroupNameError, "invalid group name"),
        ({"channel_layer_alias": ""}, ConfigurationError, "channel_layer_alias must be"),
        ({"channel_layer_alias": 3}, ConfigurationError, "channel_layer_alias must be"),
        ({"channel_layer_alias": None, "groups": ["g"]}, ConfigurationError, "need a channel"),
        ({"inbox_size": 0}, ConfigurationError, "inbox_size must be a positive int"),
        ({"inbox_size": True}, ConfigurationError, "inbox_size must be a positive int"),
    ],
)
def test_as_asgi_validates_option_values(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Recorder.as_asgi(**options)


def test_direct_instantiation_validates_too() -> None:
    with pytest.raises(TypeError):
        Recorder(unknown=1)


async def test_each_connection_gets_a_new_instance_and_channel(
    memory_layer: InMemoryChannelLayer,
) -> None:
    Recorder.instances.clear()
    app = Recorder.as_asgi()
    async with WebsocketCommunicator(app, "/a") as first, WebsocketCommunicator(app, "/b") as two:
        await first.connect()
        await two.connect()
        names = {await first.receive_from(), await two.receive_from()}
    assert len(Recorder.instances) == 2
    assert Recorder.instances[0] is not Recorder.instances[1]
    assert len(names) == 2


async def test_initkwargs_override_class_attributes_per_route(
    memory_layer: InMemoryChannelLayer,
) -> None:
    app = Recorder.as_asgi(groups=["room-7"])
    async with WebsocketCommunicator(app, "/") as client:
        await client.connect()
        await client.receive_from()
        await memory_layer.group_send("room-7", {"type": "note", "text": "hi"})
        assert await client.receive_from() == "note:hi"
    assert not Recorder.groups


# -- the channel layer -----------------------------------------------------------------


async def test_channel_layer_is_a_clear_error_without_a_layer() -> None:
    consumer = NoLayer()
    with pytest.raises(ConsumerError, match="channel_layer_alias is None"):
        _ = consumer.channel_layer
    with pytest.raises(ConsumerError, match="channel_layer_alias is None"):
        _ = consumer.channel_name


def test_channel_layer_outside_a_connection_is_a_clear_error() -> None:
    consumer = Recorder()
    with pytest.raises(ConsumerError, match="only while a connection is served"):
        _ = consumer.channel_layer


async def test_consumer_without_layer_serves_without_one() -> None:
    async with WebsocketCommunicator(NoLayer, "/") as client:
        assert await client.connect() == (True, None)


async def test_layer_messages_reach_the_consumer_channel(
    memory_layer: InMemoryChannelLayer,
) -> None:
    async with WebsocketCommunicator(Recorder, "/") as client:
        await client.connect()
        channel = await client.receive_from()
        assert isinstance(channel, str)
        await memory_layer.send(channel, {"type": "note", "text": "direct"})
        assert await client.receive_from() == "note:direct"
        await memory_layer.send(channel, {"type": "chat.message", "text": "dotted"})
        assert await client.receive_from() == "chat:dotted"


async def test_a_failing_layer_ends_the_consumer_with_its_error(
    memory_layer: InMemoryChannelLayer,
) -> None:
    communicator = WebsocketCommunicator(Recorder, "/")
    await communicator.connect()
    await communicator.receive_from()
    await memory_layer.aclose()
    with pytest.raises(LayerClosedError):
        await communicator.receive_output()
    assert (await communicator.receive_output())["code"] == 1011
    await communicator.wait()


# -- groups ----------------------------------------------------------------------------


class Grouped(AsyncWebsocketConsumer):
    groups = ["g1", "g2"]


class FailingConnect(AsyncWebsocketConsumer):
    groups = ["doomed"]

    async def connect(self) -> None:
        raise RuntimeError("connect failed")


async def test_groups_are_joined_at_start_and_left_at_disconnect(
    memory_layer: InMemoryChannelLayer,
) -> None:
    communicator = WebsocketCommunicator(Grouped, "/")
    await communicator.connect()
    assert memory_layer.statistics().groups == 2
    await communicator.disconnect()
    assert memory_layer.statistics().groups == 0


async def test_groups_are_left_when_connect_raises(memory_layer: InMemoryChannelLayer) -> None:
    communicator = WebsocketCommunicator(FailingConnect, "/")
    with pytest.raises(RuntimeError, match="connect failed"):
        await communicator.connect()
    assert (await communicator.receive_output())["code"] == 1011
    assert memory_layer.statistics().groups == 0


async def test_nothing_is_left_running_after_the_connection(
    memory_layer: InMemoryChannelLayer,
) -> None:
    before = asyncio.all_tasks()
    async with WebsocketCommunicator(Grouped, "/") as client:
        await client.connect()
    assert asyncio.all_tasks() == before
    stats = memory_layer.statistics()
    assert (stats.groups, stats.waiting_receivers, stats.channels) == (0, 0, 0)


# -- dispatch --------------------------------------------------------------------------


class Dispatcher(AsyncWebsocketConsumer):
    channel_layer_alias = None
    not_callable = "x"

    async def chat_message(self, message: Message) -> None:
        await self.send(text_data=message["text"])

    def sync_handler(self, message: Message) -> None:
        """Not async: cannot be a handler."""


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ({"type": "chat.missing"}, r"async def chat_missing\(self, message\)"),
        ({"type": "not_callable"}, "no handler for message type 'not_callable'"),
        ({"type": "_private"}, "private name '_private'"),
        ({"type": "send"}, "consumer API"),
        ({"type": "as_asgi"}, "consumer API"),
        ({"type": ""}, "without a str 'type'"),
        ({"text": "no type"}, "without a str 'type'"),
    ],
)
async def test_unknown_types_name_the_method_to_write(message: Message, match: str) -> None:
    with pytest.raises(UnknownMessageTypeError, match=match):
        await Dispatcher().dispatch(message)


async def test_sync_handlers_are_refused() -> None:
    with pytest.raises(ConsumerError, match="must be `async def`"):
        await Dispatcher().dispatch({"type": "sync_handler"})


async def test_handlers_are_found_per_class_every_time() -> None:
    """The handler lookup is remembered per (class, type): a subclass's override and a
    sibling's own handler of the same type are each called, however often."""
    calls: list[str] = []

    class Base(AsyncConsumer):
        async def ping(self, message: Message) -> None:
            calls.append("base")

    class Override(Base):
        async def ping(self, message: Message) -> None:
            calls.append("override")

    class Other(AsyncConsumer):
        async def ping(self, message: Message) -> None:
            calls.append(f"other:{message['n']}")

    for n in range(2):
        for consumer in (Base(), Override(), Other()):
            await consumer.dispatch({"type": "ping", "n": n})
    assert calls == ["base", "override", "other:0", "base", "override", "other:1"]
    with pytest.raises(ConsumerError, match="must be `async def`"):
        await Dispatcher().dispatch({"type": "sync_handler"})  # refused each time


# -- protocol-neutral consumers ----------------------------------------------------------


async def test_channel_consumer_handles_layer_messages_until_stopped(
    memory_layer: InMemoryChannelLayer,
) -> None:
    ChannelWorker.seen.clear()
    communicator = ApplicationCommunicator(ChannelWorker.as_asgi(), {"type": "channel"})
    assert await communicator.receive_nothing()
    await memory_layer.group_send("workers", {"type": "work.item", "n": 1})
    await memory_layer.group_send("workers", {"type": "work.item", "n": 2})
    await memory_layer.group_send("workers", {"type": "work.stop"})
    await communicator.wait()
    assert [m["n"] for m in ChannelWorker.seen] == [1, 2]
    assert memory_layer.statistics().groups == 0


async def test_scope_type_mismatch_is_refused_before_anything_runs() -> None:
    communicator = ApplicationCommunicator(NoLayer.as_asgi(), {"type": "http"})
    with pytest.raises(ConsumerError, match="serves 'websocket' connections, not 'http'"):
        await communicator.wait()


async def test_errors_are_logged_on_the_consumer_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="fast_channels.consumer")
    communicator = WebsocketCommunicator(FailingConnect.as_asgi(channel_layer_alias="x"), "/")
    with pytest.raises(LayerNotRegisteredError):
        await communicator.connect()
    assert any("FailingConnect failed" in r.getMessage() for r in caplog.records)


# -- the app object --------------------------------------------------------------------


class FakeWebSocket:
    """What Starlette's WebSocket offers a consumer app: the scope and raw events."""

    def __init__(self, events: list[Message]) -> None:
        self.scope: Scope = {"type": "websocket", "path": "/", "subprotocols": []}
        self.sent: list[Message] = []
        self._events = events

    async def receive(self) -> Message:
        return self._events.pop(0)

    async def send(self, message: Any) -> None:
        self.sent.append(dict(message))


async def test_app_runs_on_a_framework_websocket() -> None:
    websocket = FakeWebSocket(
        [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]
    )
    await NoLayer.as_asgi()(websocket)
    assert websocket.sent == [{"type": "websocket.accept", "subprotocol": None}]


async def test_app_refuses_partial_calls() -> None:
    app: Any = NoLayer.as_asgi()
    with pytest.raises(TypeError, match="got a dict alone"):
        await app({"type": "websocket"})
    with pytest.raises(TypeError, match=r"\(websocket\)"):
        await app(FakeWebSocket([]), None, FakeWebSocket([]).send)


# -- run-time groups, failing parts ------------------------------------------------------


class RoomJoiner(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.join_group("room-1")
        await self.join_group("room-1")
        await self.join_group("room-2")
        await self.leave_group("room-2")
        await self.accept()


async def test_run_time_groups_are_left_at_the_end(memory_layer: InMemoryChannelLayer) -> None:
    client = WebsocketCommunicator(RoomJoiner, "/")
    await client.connect()
    assert memory_layer.statistics().groups == 1
    await client.disconnect()
    assert memory_layer.statistics().groups == 0


async def test_a_failing_client_receive_ends_the_consumer_with_its_error() -> None:
    async def receive() -> Message:
        raise ConnectionResetError("server lost the client")

    async def send(event: Any) -> None:
        """Nothing is sent before the failure."""

    with pytest.raises(ConnectionResetError, match="server lost the client"):
        await NoLayer.as_asgi()({"type": "websocket", "path": "/"}, receive, send)


async def test_leaving_groups_on_a_closed_layer_is_logged_not_raised(
    memory_layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    client = WebsocketCommunicator(Grouped, "/")
    await client.connect()
    await memory_layer.aclose()
    with pytest.raises(LayerClosedError):
        await client.receive_output()
    assert "could not leave group 'g1'" in caplog.text


async def test_sending_without_a_connection_is_a_consumer_error() -> None:
    with pytest.raises(ConsumerError, match="is not serving a connection"):
        await NoLayer().accept()
