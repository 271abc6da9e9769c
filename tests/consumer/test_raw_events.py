"""``send(event)`` and ``base_send``: consumers that speak an ASGI protocol themselves, as
Django Channels' and fast-channels 1.x's ``AsyncConsumer`` let them."""

from __future__ import annotations

from typing import Any

import pytest

from fast_channels.consumer import (
    AsyncConsumer,
    AsyncHttpConsumer,
    AsyncWebsocketConsumer,
    HttpResponseState,
    WebSocketState,
)
from fast_channels.exceptions import ConsumerError, StopConsumer, UnknownMessageTypeError
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.testing import HttpCommunicator, WebsocketCommunicator
from fast_channels.types import Message, WebSocketAcceptEvent


class RawEcho(AsyncConsumer):
    """A WebSocket served with raw ASGI events, as in Django Channels' documentation."""

    channel_layer_alias: str | None = None

    async def websocket_connect(self, event: Message) -> None:
        accept: WebSocketAcceptEvent = {"type": "websocket.accept", "subprotocol": None}
        await self.send(accept)  # the event TypedDicts are accepted as they are

    async def websocket_receive(self, event: Message) -> None:
        if event.get("text") == "bye":
            await self.send({"type": "websocket.close", "code": 4000})
        elif event.get("text") == "raw":
            await self.base_send({"type": "websocket.send", "text": "from base_send"})
        else:
            await self.send({"type": "websocket.send", "text": event.get("text")})

    async def websocket_disconnect(self, event: Message) -> None:
        raise StopConsumer


async def test_a_plain_consumer_serves_a_websocket_with_raw_events() -> None:
    async with WebsocketCommunicator(RawEcho, "/raw") as client:
        assert await client.connect() == (True, None)
        await client.send_to(text_data="hello")
        assert await client.receive_from() == "hello"
        await client.send_to(text_data="raw")
        assert await client.receive_from() == "from base_send"
        await client.send_to(text_data="bye")
        assert await client.receive_output() == {"type": "websocket.close", "code": 4000}


async def test_a_plain_consumer_ends_when_the_client_leaves_without_stop_consumer() -> None:
    """Channels' examples often return from ``websocket_disconnect`` (or have none): the
    consumer ends anyway, once that handler returned."""

    class Forgetful(RawEcho):
        left: list[int] = []

        async def websocket_disconnect(self, event: Message) -> None:
            Forgetful.left.append(event["code"])

    class NoHandler(AsyncConsumer):
        channel_layer_alias = None

        async def websocket_connect(self, event: Message) -> None:
            await self.send({"type": "websocket.accept"})

    for consumer in (Forgetful, NoHandler):
        client = WebsocketCommunicator(consumer, "/raw")
        assert (await client.connect())[0]
        await client.disconnect(code=4321)  # raises if the application does not finish
    assert Forgetful.left == [4321]


async def test_a_plain_consumer_with_a_layer_ends_when_the_client_leaves(
    memory_layer: InMemoryChannelLayer,
) -> None:
    class Member(RawEcho):
        channel_layer_alias = "default"
        groups = ["raw-room"]

        async def websocket_disconnect(self, event: Message) -> None:
            pass

    client = WebsocketCommunicator(Member, "/raw")
    assert (await client.connect())[0]
    assert len(memory_layer.local.group_channels("raw-room")) == 1
    await client.disconnect()
    assert memory_layer.local.group_channels("raw-room") == []


async def test_a_missing_handler_is_still_an_error_while_the_client_is_there() -> None:
    class Deaf(AsyncConsumer):
        channel_layer_alias = None

        async def websocket_connect(self, event: Message) -> None:
            await self.send({"type": "websocket.accept"})

    client = WebsocketCommunicator(Deaf, "/raw")
    assert (await client.connect())[0]
    await client.send_to(text_data="hello")
    with pytest.raises(UnknownMessageTypeError, match="no handler for message type"):
        await client.wait()


async def test_send_refuses_what_is_not_an_event_and_needs_a_connection() -> None:
    class Sender(AsyncConsumer):
        channel_layer_alias = None

    with pytest.raises(ConsumerError, match="not serving a connection"):
        await Sender().send({"type": "websocket.accept"})
    with pytest.raises(ConsumerError, match="not serving a connection"):
        Sender().base_send  # noqa: B018  (the property raises)

    class Careless(RawEcho):
        async def websocket_connect(self, event: Message) -> None:
            not_an_event: Any = {"text": "no type"}
            await self.send(not_an_event)

    client = WebsocketCommunicator(Careless, "/raw")
    with pytest.raises(TypeError, match="a dict with a str 'type'"):
        await client.connect()


async def test_layer_messages_cannot_name_send_or_base_send(
    memory_layer: InMemoryChannelLayer,
) -> None:
    """Now that ``send`` exists on every consumer, a layer message typed "send" must not
    reach the client through it."""

    class Listener(RawEcho):
        channel_layer_alias = "default"
        groups = ["listeners"]

    for kind in ("send", "base.send", "dispatch.in.turn"):
        client = WebsocketCommunicator(Listener, "/raw")
        assert (await client.connect())[0]
        await memory_layer.group_send("listeners", {"type": kind, "text": "smuggled"})
        with pytest.raises(UnknownMessageTypeError, match="consumer API"):
            await client.receive_output()


class StatefulRaw(AsyncWebsocketConsumer):
    """A WebSocket consumer whose code still sends Channels-style raw events."""

    channel_layer_alias = None
    seen: list[WebSocketState] = []

    async def connect(self) -> None:
        await self.send({"type": "websocket.accept", "subprotocol": "v2"})
        StatefulRaw.seen.append(self.state)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "close":
            await self.send({"type": "websocket.close", "code": 4001, "reason": "asked"})
            StatefulRaw.seen.append(self.state)
            return
        if text_data == "close-too":
            event: Any = {"type": "websocket.close"}
            await self.send(event, close=True)
        await self.send({"type": "websocket.send", "text": text_data, "bytes": None})
        await self.send({"type": "websocket.send", "bytes": b"\x00"})
        await self.send(text_data="plain")


async def test_a_websocket_consumer_takes_raw_events_through_its_state() -> None:
    StatefulRaw.seen.clear()
    async with WebsocketCommunicator(StatefulRaw, "/raw", subprotocols=["v2"]) as client:
        assert await client.connect() == (True, "v2")
        await client.send_to(text_data="hi")
        assert await client.receive_from() == "hi"
        assert await client.receive_from() == b"\x00"
        assert await client.receive_from() == "plain"
        await client.send_to(text_data="close")
        assert await client.receive_output() == {
            "type": "websocket.close",
            "code": 4001,
            "reason": "asked",
        }
    assert StatefulRaw.seen == [WebSocketState.CONNECTED, WebSocketState.CLOSED]


async def test_a_websocket_consumer_refuses_raw_events_it_cannot_send() -> None:
    class Wrong(StatefulRaw):
        async def connect(self) -> None:
            await self.send({"type": "websocket.send", "text": "too early"})

    client = WebsocketCommunicator(Wrong, "/raw")
    with pytest.raises(ConsumerError, match="needs a CONNECTED WebSocket"):
        await client.connect()

    client = WebsocketCommunicator(StatefulRaw, "/raw", subprotocols=["v2"])
    assert (await client.connect())[0]
    await client.send_to(text_data="close-too")
    with pytest.raises(TypeError, match="needs a str, got dict"):
        await client.receive_output()


class RawHttp(AsyncHttpConsumer):
    channel_layer_alias = None
    states: list[HttpResponseState] = []

    async def handle(self, body: bytes) -> None:
        await self.send(
            {"type": "http.response.start", "status": 201, "headers": [(b"x-raw", b"1")]}
        )
        RawHttp.states.append(self.response_state)
        await self.send({"type": "http.response.body", "body": b"part ", "more_body": True})
        await self.send({"type": "http.response.body", "body": body})
        RawHttp.states.append(self.response_state)


async def test_an_http_consumer_takes_raw_events_through_its_response_state() -> None:
    RawHttp.states.clear()
    response = await HttpCommunicator(RawHttp, "/raw", method="POST", body=b"two").get_response()
    assert response == {"status": 201, "headers": [(b"x-raw", b"1")], "body": b"part two"}
    assert RawHttp.states == [HttpResponseState.STARTED, HttpResponseState.COMPLETE]


async def test_any_consumer_sends_raw_events_typed_as_a_plain_consumer() -> None:
    """Liskov: a WebSocket consumer used where an ``AsyncConsumer`` is expected still takes
    ``send(event)`` (this also type-checks under mypy --strict and pyright strict)."""

    async def accept_through_the_base(consumer: AsyncConsumer) -> None:
        await consumer.send({"type": "websocket.accept"})

    class ViaBase(AsyncWebsocketConsumer):
        channel_layer_alias = None

        async def connect(self) -> None:
            await accept_through_the_base(self)
            await self.send(text_data=self.state.name)

    async with WebsocketCommunicator(ViaBase, "/raw") as client:
        assert (await client.connect())[0]
        assert await client.receive_from() == "CONNECTED"
