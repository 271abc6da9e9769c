"""Consumers written the Django Channels way, under uvicorn with real WebSocket clients: raw
ASGI events from a plain ``AsyncConsumer``, and ``scope["url_route"]`` under every router."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import connect

from fast_channels.consumer import AsyncConsumer, AsyncJsonWebsocketConsumer
from fast_channels.routing import ProtocolTypeRouter, URLRouter, path
from fast_channels.types import Message, Receive, Scope, Send
from tests.e2e.client import closed_with, recv_json, recv_text
from tests.e2e.conftest import serve


class RawEcho(AsyncConsumer):
    channel_layer_alias = None
    left: list[int] = []

    async def websocket_connect(self, event: Message) -> None:
        await self.send({"type": "websocket.accept"})

    async def websocket_receive(self, event: Message) -> None:
        if event.get("text") == "bye":
            await self.send({"type": "websocket.close", "code": 4000, "reason": "bye"})
        else:
            await self.send({"type": "websocket.send", "text": f"echo {event.get('text')}"})

    async def websocket_disconnect(self, event: Message) -> None:
        RawEcho.left.append(event["code"])  # returns: no StopConsumer, as in many examples


async def test_a_raw_consumer_accepts_sends_and_closes() -> None:
    finished = asyncio.Event()
    consumer = RawEcho.as_asgi()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await consumer(scope, receive, send)
        finally:
            finished.set()

    RawEcho.left.clear()
    async with serve(app) as base:
        async with connect(f"{base}/raw") as ws:
            await ws.send("hello")
            assert await recv_text(ws) == "echo hello"
            await ws.send("bye")
            assert await closed_with(ws) == (4000, "bye")
        await asyncio.wait_for(finished.wait(), 10)
        finished.clear()
        async with connect(f"{base}/raw") as ws:  # the client leaves first
            await ws.send("once")
            assert await recv_text(ws) == "echo once"
        await asyncio.wait_for(finished.wait(), 10)
    assert RawEcho.left[-1] == 1000


class RoomReporter(AsyncJsonWebsocketConsumer):
    """Reads its room the Django Channels way and the Starlette way."""

    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        await self.send_json(
            {
                "url_route": self.scope["url_route"]["kwargs"]["room"],
                "path_params": self.scope["path_params"]["room"],
            }
        )


def _starlette() -> Any:
    return Starlette(routes=[WebSocketRoute("/ws/{room}", RoomReporter.as_asgi())])


def _fastapi() -> Any:
    app = FastAPI()
    app.router.add_websocket_route("/ws/{room}", RoomReporter.as_asgi())

    @app.websocket("/native/{room}")
    async def native(websocket: WebSocket, room: str) -> None:
        await RoomReporter.as_asgi()(websocket)

    return app


def _url_router() -> Any:
    return ProtocolTypeRouter(
        {"websocket": URLRouter([path("ws/<str:room>", RoomReporter.as_asgi())])}
    )


@pytest.mark.parametrize(
    "make_app", [_starlette, _fastapi, _url_router], ids=["starlette", "fastapi", "url_router"]
)
async def test_the_room_is_in_url_route_and_path_params(make_app: Callable[[], Any]) -> None:
    async with serve(make_app()) as base:
        async with connect(f"{base}/ws/blue") as ws:
            assert await recv_json(ws) == {"url_route": "blue", "path_params": "blue"}
        if make_app is _fastapi:
            async with connect(f"{base}/native/green") as ws:
                assert await recv_json(ws) == {"url_route": "green", "path_params": "green"}
