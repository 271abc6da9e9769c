"""Redis down as connections arrive: each handshake is refused with 1013 (try again later)
and one log line naming the cause, with no traceback; once Redis is back, connections work.

Real parts: a redis-server that is stopped, uvicorn, the ``websockets`` client.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from fast_channels.consumer import AsyncConsumer, AsyncJsonWebsocketConsumer
from fast_channels.exceptions import LayerConnectionError
from fast_channels.layers import BaseChannelLayer, InMemoryChannelLayer, register_channel_layer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from fast_channels.status import CloseCode
from fast_channels.testing import ApplicationCommunicator
from fast_channels.types import ASGIEvent
from tests.e2e.client import closed_with, recv_json
from tests.e2e.conftest import serve
from tests.servers import RedisProcess, start_redis


class Lobby(AsyncJsonWebsocketConsumer):
    groups = ["lobby"]
    connected = 0

    async def connect(self) -> None:
        Lobby.connected += 1
        await self.accept()

    async def receive_json(self, content: Any) -> None:
        await self.channel_layer.group_send("lobby", {"type": "lobby.message", "content": content})

    async def lobby_message(self, message: dict[str, Any]) -> None:
        await self.send_json(message["content"])


@pytest.fixture
def stopped_redis() -> Iterator[RedisProcess]:
    """A redis-server that was started, then killed: its port refuses connections."""
    server = start_redis()
    server.stop()
    yield server
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


LAYERS: dict[str, Callable[[str], BaseChannelLayer]] = {
    "queue": lambda url: RedisChannelLayer(hosts=[url]),
    "pubsub": lambda url: RedisPubSubChannelLayer(hosts=[url]),
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
async def test_handshakes_are_refused_with_1013_and_one_line_each(
    kind: str, stopped_redis: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    layer = LAYERS[kind](stopped_redis.url)
    register_channel_layer("default", layer)
    Lobby.connected = 0
    caplog.set_level(logging.INFO, logger="fast_channels.consumer")
    try:
        async with serve(Lobby.as_asgi()) as url:
            for _ in range(2):
                async with connect(f"{url}/ws/lobby") as ws:
                    code, reason = await closed_with(ws)
                assert (code, reason) == (CloseCode.TRY_AGAIN_LATER, "channel layer unavailable")
            assert Lobby.connected == 0
            records = [r for r in caplog.records if r.name == "fast_channels.consumer"]
            assert len(records) == 2, [r.getMessage() for r in records]
            for record in records:
                assert record.levelno == logging.WARNING
                assert record.exc_info is None
                text = record.getMessage()
                assert "Lobby refused a connection to /ws/lobby with 1013" in text
                assert "channel layer 'default' is unreachable" in text
                assert "Redis" in text

            stopped_redis.start()
            async with connect(f"{url}/ws/lobby") as ws:
                await ws.send(json.dumps("back"))
                assert await recv_json(ws) == "back"
            assert Lobby.connected == 1
    finally:
        await layer.aclose()


class Unreachable(InMemoryChannelLayer):
    """A layer whose backend cannot be reached: new_channel() fails as Redis's would."""

    async def _new_channel(self, prefix: str) -> str:
        raise LayerConnectionError("Redis at 127.0.0.1:1 is unreachable")


async def test_a_client_gone_before_its_handshake_is_answered_gets_nothing() -> None:
    register_channel_layer("default", Unreachable())
    sent: list[ASGIEvent] = []

    async def receive() -> ASGIEvent:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send(event: ASGIEvent) -> None:
        sent.append(event)

    await Lobby.as_asgi()({"type": "websocket", "path": "/"}, receive, send)
    assert sent == []


async def test_a_consumer_without_a_client_raises_the_layer_error() -> None:
    class Job(AsyncConsumer):
        pass

    register_channel_layer("default", Unreachable())
    communicator = ApplicationCommunicator(Job.as_asgi(), {"type": "channel"})
    with pytest.raises(LayerConnectionError, match="unreachable"):
        await communicator.wait()
