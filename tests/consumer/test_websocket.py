"""WebSocket consumers: the state machine, frames, close codes, JSON, errors."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fast_channels.consumer import (
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
    WebSocketState,
)
from fast_channels.exceptions import DenyConnection, StopConsumer, WebSocketStateError
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.status import CloseCode
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import Message


class Echo(AsyncWebsocketConsumer):
    channel_layer_alias = None
    closed_with: list[int] = []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "close":
            await self.close(4001, reason="asked to")
        elif text_data == "stop":
            raise StopConsumer
        elif text_data == "last":
            await self.send("bye", close=True)
        elif text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data)

    async def disconnect(self, code: int) -> None:
        Echo.closed_with.append(code)


async def test_text_and_binary_frames_round_trip() -> None:
    async with WebsocketCommunicator(Echo, "/") as client:
        assert await client.connect() == (True, None)
        await client.send_to(text_data="héllo")
        assert await client.receive_from() == "héllo"
        await client.send_to(bytes_data=b"\x00\xff")
        assert await client.receive_from() == b"\x00\xff"
        assert await client.receive_nothing()


async def test_disconnect_runs_with_the_client_code() -> None:
    Echo.closed_with.clear()
    client = WebsocketCommunicator(Echo, "/")
    await client.connect()
    await client.disconnect(code=4321)
    assert Echo.closed_with == [4321]


async def test_server_close_sends_code_and_reason_then_waits_for_the_peer() -> None:
    Echo.closed_with.clear()
    client = WebsocketCommunicator(Echo, "/")
    await client.connect()
    await client.send_to(text_data="close")
    assert await client.receive_output() == {
        "type": "websocket.close",
        "code": 4001,
        "reason": "asked to",
    }
    assert not client.finished
    await client.disconnect(code=4001)
    assert Echo.closed_with == [4001]


async def test_send_with_close_sends_then_closes_normally() -> None:
    async with WebsocketCommunicator(Echo, "/") as client:
        await client.connect()
        await client.send_to(text_data="last")
        assert await client.receive_from() == "bye"
        assert await client.receive_output() == {"type": "websocket.close", "code": 1000}


async def test_stop_consumer_closes_the_socket_normally_and_ends() -> None:
    client = WebsocketCommunicator(Echo, "/")
    await client.connect()
    await client.send_to(text_data="stop")
    assert await client.receive_output() == {"type": "websocket.close", "code": 1000}
    await client.wait()


# -- the handshake -----------------------------------------------------------------------


class Picky(AsyncWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        if "deny" in self.scope["path"]:
            raise DenyConnection
        if "reject" in self.scope["path"]:
            await self.close()
            return
        protocol = "chat.v2" if "chat.v2" in self.scope["subprotocols"] else None
        await self.accept(protocol, headers=[(b"x-server", b"fast-channels")])


async def test_accept_chooses_a_subprotocol_and_headers() -> None:
    async with WebsocketCommunicator(Picky, "/", subprotocols=["chat.v1", "chat.v2"]) as client:
        assert await client.connect() == (True, "chat.v2")


@pytest.mark.parametrize("path", ["/deny", "/reject"])
async def test_deny_or_close_in_connect_rejects_the_handshake(path: str) -> None:
    async with WebsocketCommunicator(Picky, path) as client:
        assert await client.connect() == (False, 1000)


class StateAbuser(AsyncWebsocketConsumer):
    channel_layer_alias = None
    errors: list[str] = []

    async def connect(self) -> None:
        await self._try(self.send("too early"))
        await self._try(self.accept("not-offered"))
        await self.accept()
        await self._try(self.accept())
        await self._try(self.send())
        await self._try(self.send("a", b"b"))
        not_text: Any = b"x"
        await self._try(self.send(text_data=not_text))
        await self._try(self.send(bytes_data=not_text.decode()))
        await self._try(self.close(999))
        await self._try(self.close(1006))
        await self._try(self.close(True))
        await self._try(self.close(1000, reason="x" * 124))
        await self.close()
        await self.close()  # idempotent
        await self._try(self.send("too late"))

    async def _try(self, action: Any) -> None:
        try:
            await action
        except (WebSocketStateError, ValueError, TypeError) as exc:
            StateAbuser.errors.append(f"{type(exc).__name__}: {exc}")


async def test_illegal_transitions_raise_naming_the_expected_state() -> None:
    StateAbuser.errors.clear()
    async with WebsocketCommunicator(StateAbuser, "/", subprotocols=["v1"]) as client:
        assert (await client.connect())[0]
        assert await client.receive_output() == {"type": "websocket.close", "code": 1000}
    errors = StateAbuser.errors
    assert errors[0] == (
        "WebSocketStateError: StateAbuser.send() needs a CONNECTED WebSocket, but it is "
        "CONNECTING: call accept() first"
    )
    assert "the client offered ['v1']" in errors[1]
    assert "accept() needs a CONNECTING WebSocket, but it is CONNECTED" in errors[2]
    assert "exactly one of text_data= or bytes_data=" in errors[3]
    assert "exactly one of text_data= or bytes_data=" in errors[4]
    assert "needs a str, got bytes" in errors[5]
    assert "cannot be sent" in errors[7]
    assert "cannot be sent" in errors[8]
    assert "needs an int" in errors[9]
    assert "over 123 bytes" in errors[10]
    assert "send(bytes_data=) needs bytes, got str" in errors[6]
    assert "send() needs a CONNECTED WebSocket, but it is CLOSED" in errors[11]
    assert len(errors) == 12


async def test_accept_validates_headers() -> None:
    consumer = Picky()
    consumer.scope = {"type": "websocket"}
    not_bytes: Any = [("x", "y")]
    with pytest.raises(TypeError, match=r"\(bytes, bytes\) pairs"):
        await consumer.accept(headers=not_bytes)


# -- the peer leaving, and layer messages after close -----------------------------------


class Broadcaster(AsyncWebsocketConsumer):
    groups = ["news"]
    handled: list[str] = []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.close()
        await self.channel_layer.group_send("news", {"type": "news", "text": "late"})

    async def news(self, message: Message) -> None:
        Broadcaster.handled.append(message["text"])
        await self.send(message["text"])

    async def disconnect(self, code: int) -> None:
        await self.send("nobody hears this")


async def test_layer_messages_stop_once_the_consumer_closed(
    memory_layer: InMemoryChannelLayer,
) -> None:
    Broadcaster.handled.clear()
    async with WebsocketCommunicator(Broadcaster, "/") as client:
        await client.connect()
        await memory_layer.group_send("news", {"type": "news", "text": "early"})
        assert await client.receive_from() == "early"
        await client.send_to(text_data="bye")
        assert (await client.receive_output())["type"] == "websocket.close"
        assert await client.receive_nothing()
    assert Broadcaster.handled == ["early"]


async def test_sends_after_the_peer_left_are_dropped(memory_layer: InMemoryChannelLayer) -> None:
    client = WebsocketCommunicator(Broadcaster, "/")
    await client.connect()
    await client.disconnect()
    assert await client.receive_nothing()


class Failing(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def receive_json(self, content: Any) -> None:
        raise RuntimeError(f"boom: {content}")


async def test_exceptions_close_with_1011_are_logged_and_re_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="fast_channels.consumer")
    client = WebsocketCommunicator(Failing, "/ws")
    await client.connect()
    await client.send_json_to([1])
    with pytest.raises(RuntimeError, match=r"boom: \[1\]"):
        await client.receive_output()
    assert await client.receive_output() == {"type": "websocket.close", "code": 1011}
    assert [r.getMessage() for r in caplog.records] == [
        "Failing failed on /ws: RuntimeError('boom: [1]')"
    ]
    await client.disconnect()


# -- JSON --------------------------------------------------------------------------------


class JsonEcho(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def receive_json(self, content: Any) -> None:
        await self.send_json({"echo": content}, close=content == "last")


async def test_json_round_trip_and_close_after_send() -> None:
    async with WebsocketCommunicator(JsonEcho, "/") as client:
        await client.connect()
        await client.send_json_to({"a": [1, 2.5, None, True, "é"]})
        assert await client.receive_json_from() == {"echo": {"a": [1, 2.5, None, True, "é"]}}
        await client.send_json_to("last")
        assert await client.receive_json_from() == {"echo": "last"}
        assert (await client.receive_output())["code"] == CloseCode.NORMAL_CLOSURE


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"text": "{not json"}, CloseCode.INVALID_PAYLOAD),
        ({"text": "[1, 2"}, CloseCode.INVALID_PAYLOAD),
        ({"bytes": b'{"a": 1}'}, CloseCode.UNSUPPORTED_DATA),
    ],
)
async def test_bad_json_input_closes_that_socket(frame: dict[str, Any], code: CloseCode) -> None:
    async with (
        WebsocketCommunicator(JsonEcho, "/") as bad,
        WebsocketCommunicator(JsonEcho, "/") as good,
    ):
        await bad.connect()
        await good.connect()
        await bad.send_input({"type": "websocket.receive", **frame})
        closed = await bad.receive_output()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == code
        assert closed["reason"]
        await good.send_json_to(1)
        assert await good.receive_json_from() == {"echo": 1}


class Custom(JsonEcho):
    @classmethod
    def decode_json(cls, text_data: str) -> Any:
        return {"decoded": text_data}

    @classmethod
    def encode_json(cls, content: object) -> str:
        return f"custom:{content}"


async def test_json_codec_is_overridable() -> None:
    async with WebsocketCommunicator(Custom, "/") as client:
        await client.connect()
        await client.send_to(text_data="raw")
        assert await client.receive_from() == "custom:{'echo': {'decoded': 'raw'}}"


def test_state_enum_values() -> None:
    assert [s.name for s in WebSocketState] == [
        "CONNECTING",
        "CONNECTED",
        "CLOSED",
        "DISCONNECTED",
    ]


class Chatty(AsyncWebsocketConsumer):
    channel_layer_alias = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send("one")
        await self.send("two")


async def test_a_peer_that_vanished_mid_send_drops_frames_quietly() -> None:
    """The server raises OSError (uvicorn: ClientDisconnected) before it tells us."""
    events: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "go"},
        {"type": "websocket.disconnect", "code": 1006},
    ]
    sent: list[Any] = []

    async def receive() -> Message:
        return events.pop(0)

    async def send(event: Any) -> None:
        if event["type"] == "websocket.send":
            raise OSError("client gone")
        sent.append(event)

    await Chatty.as_asgi()({"type": "websocket", "path": "/"}, receive, send)
    assert sent == [{"type": "websocket.accept", "subprotocol": None}]
