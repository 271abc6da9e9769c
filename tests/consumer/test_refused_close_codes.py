"""A server that refuses a close code (daphne sends only 1000 and 3000-4999) does not crash
the consumer: it closes with 1000 instead, or, after an error, leaves the close to the
server; ``disconnect()`` runs either way. (The real daphne: tests/e2e/test_daphne.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.status import CloseCode
from fast_channels.types import ASGIEvent, Message, Scope


class PickyServer:
    """ASGI ``receive``/``send`` of a server that raises on close codes it does not send."""

    def __init__(self, events: list[Message]) -> None:
        self.events: asyncio.Queue[Message] = asyncio.Queue()
        for event in events:
            self.events.put_nowait(event)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return await self.events.get()

    async def send(self, event: ASGIEvent) -> None:
        code = event.get("code", 1000)
        if event["type"] == "websocket.close" and code != 1000 and not 3000 <= code <= 4999:
            raise ValueError(f"invalid close code {code} (must be 1000 or from [3000, 4999])")
        self.sent.append(dict(event))
        if event["type"] == "websocket.close":
            self.events.put_nowait({"type": "websocket.disconnect", "code": code})


class Strict(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None
    codes: list[int] = []

    async def receive_json(self, content: Any) -> None:
        if content == "crash":
            raise RuntimeError("handler bug")

    async def disconnect(self, code: int) -> None:
        Strict.codes.append(code)


SCOPE: Scope = {"type": "websocket", "path": "/", "subprotocols": []}


async def test_a_refused_code_falls_back_to_1000_naming_the_code_meant() -> None:
    Strict.codes.clear()
    server = PickyServer(
        [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "{"}]
    )
    await Strict.as_asgi()(SCOPE, server.receive, server.send)
    accept, close = server.sent
    assert accept["type"] == "websocket.accept"
    assert close["code"] == CloseCode.NORMAL_CLOSURE
    assert close["reason"].startswith("1007 malformed JSON")
    assert Strict.codes == [CloseCode.NORMAL_CLOSURE]  # the code the server reported


async def test_after_an_error_the_close_is_left_to_the_server() -> None:
    Strict.codes.clear()
    server = PickyServer(
        [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": '"crash"'}]
    )
    with pytest.raises(RuntimeError, match="handler bug"):
        await Strict.as_asgi()(SCOPE, server.receive, server.send)
    assert [event["type"] for event in server.sent] == ["websocket.accept"]
    assert Strict.codes == [CloseCode.INTERNAL_ERROR]
