"""WebsocketCommunicator: the scope it builds, the client API, and its error messages."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from fast_channels.consumer import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from fast_channels.exceptions import CommunicatorError, CommunicatorTimeoutError
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import Receive, Scope, Send


class ScopeReporter(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        scope = self.scope
        await self.send_json(
            {
                "path": scope["path"],
                "raw_path": scope["raw_path"].decode(),
                "query_string": scope["query_string"].decode(),
                "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
                "subprotocols": scope["subprotocols"],
                "path_params": scope.get("path_params"),
                "user": scope.get("user"),
            }
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            await self.send(bytes_data=bytes_data)
        else:
            await super().receive(text_data=text_data)

    async def receive_json(self, content: Any) -> None:
        await self.send_json(content)


async def test_scope_from_path_headers_subprotocols_and_extras() -> None:
    async with WebsocketCommunicator(
        ScopeReporter,
        "/ws/caf%C3%A9/?room=1&x=%20",
        headers=[(b"Origin", b"http://example.com")],
        subprotocols=["v1"],
        extra_scope={"user": "alice"},
    ) as client:
        assert await client.connect() == (True, None)
        assert await client.receive_json_from() == {
            "path": "/ws/café/",
            "raw_path": "/ws/caf%C3%A9/",
            "query_string": "room=1&x=%20",
            "headers": [["origin", "http://example.com"]],
            "subprotocols": ["v1"],
            "path_params": None,
            "user": "alice",
        }


async def test_a_starlette_app_routes_to_the_consumer_with_path_params() -> None:
    app = Starlette(routes=[WebSocketRoute("/rooms/{room}", ScopeReporter.as_asgi())])
    async with WebsocketCommunicator(app, "/rooms/42") as client:
        await client.connect()
        assert (await client.receive_json_from())["path_params"] == {"room": "42"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"path": "no-slash"}, ValueError, "starting with '/'"),
        ({"headers": [("origin", "x")]}, TypeError, r"\(bytes, bytes\) pairs"),
        ({"subprotocols": "v1"}, TypeError, "list of str"),
    ],
)
def test_bad_arguments_are_refused(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    options: dict[str, Any] = {"path": "/", **kwargs}
    with pytest.raises(error, match=match):
        WebsocketCommunicator(ScopeReporter, **options)


async def test_frames_both_ways() -> None:
    async with WebsocketCommunicator(ScopeReporter, "/") as client:
        await client.connect()
        await client.receive_from()
        await client.send_to(bytes_data=b"\x01")
        assert await client.receive_from() == b"\x01"
        await client.send_to(bytes_data=b"[]")
        with pytest.raises(CommunicatorError, match="expected a JSON text frame, got binary"):
            await client.receive_json_from()


async def test_send_to_validates_its_arguments() -> None:
    client = WebsocketCommunicator(ScopeReporter, "/")
    not_text: Any = b"x"
    not_bytes: Any = "x"
    with pytest.raises(ValueError, match="exactly one"):
        await client.send_to()
    with pytest.raises(ValueError, match="exactly one"):
        await client.send_to("a", b"b")
    with pytest.raises(TypeError, match="text_data must be a str"):
        await client.send_to(text_data=not_text)
    with pytest.raises(TypeError, match="bytes_data must be bytes"):
        await client.send_to(bytes_data=not_bytes)


async def test_receive_from_explains_a_close_instead_of_a_frame() -> None:
    async with WebsocketCommunicator(ScopeReporter, "/") as client:
        await client.connect()
        await client.receive_from()
        await client.send_to(text_data="{broken")
        with pytest.raises(CommunicatorError, match=r"expected a websocket.send frame.*1007"):
            await client.receive_from()


async def silent(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def odd_handshake(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.send", "text": "hello?"})
    await receive()


async def empty_frame(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send"})
    await receive()


async def test_connect_timeout_names_the_handshake() -> None:
    client = WebsocketCommunicator(silent, "/")
    with pytest.raises(CommunicatorTimeoutError, match=r"handshake answer \(connect\)"):
        await client.connect(timeout=0.05)


async def test_receive_from_timeout_names_the_frame() -> None:
    async with WebsocketCommunicator(ScopeReporter, "/") as client:
        await client.connect()
        await client.receive_from()
        with pytest.raises(CommunicatorTimeoutError, match=r"a frame \(receive_from\)"):
            await client.receive_from(timeout=0.05)


async def test_unexpected_handshake_answers_and_empty_frames_are_errors() -> None:
    async with WebsocketCommunicator(odd_handshake, "/") as client:
        with pytest.raises(CommunicatorError, match=r"expected websocket\.accept or"):
            await client.connect()
    async with WebsocketCommunicator(empty_frame, "/") as client:
        await client.connect()
        with pytest.raises(CommunicatorError, match="neither text nor bytes"):
            await client.receive_from()


class Quitter(AsyncWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        await self.close()


async def test_disconnect_after_the_app_ended_just_waits() -> None:
    client = WebsocketCommunicator(Quitter, "/")
    assert await client.connect() == (True, None)
    assert client.connected
    await client.disconnect()
    await client.disconnect()
    assert client.finished
    assert not client.connected


async def test_async_with_without_connecting_is_fine() -> None:
    async with WebsocketCommunicator(Quitter, "/") as client:
        assert not client.finished
