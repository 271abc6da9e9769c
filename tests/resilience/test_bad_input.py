"""Bad input at the doors the rest of the suite does not already cover, and the server (or
reader) keeps serving everyone else.

Already covered elsewhere, not repeated here: invalid channel/group names, non-dict,
unserialisable and oversize messages, undecryptable messages (``tests/layers/
test_contract.py``, on every layer); malformed JSON (1007), a binary frame to a JSON
consumer (1003), a crashing consumer (1011) and layer misuse from a consumer
(``tests/e2e/test_fastapi.py``).

Here: entries in Redis that no layer wrote (a reader must drop and count them, never
die); a WebSocket frame over the server's documented size limit (uvicorn's
``ws_max_size``: the server closes that socket with 1009 MESSAGE_TOO_BIG); clients that
go away in the middle of the handshake while the consumer is joining a group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncGenerator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import connect

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.layers import register_channel_layer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from fast_channels.status import CloseCode
from fast_channels.types import ASGIApp, Message
from tests.e2e.client import closed_with, recv_text
from tests.e2e.conftest import WS_IMPL
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.servers import RedisProcess, free_port

pytestmark = [pytest.mark.redis]

GARBAGE = [b"", b"garbage", b"9" * 13, b"0000000000000\xff\xfe", b"\x00" * 40]


async def test_queue_readers_drop_entries_they_cannot_parse_and_carry_on(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as layer:
        channel = await layer.new_channel()
        named = asyncio.create_task(layer.receive("jobs"))
        local = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(0.2)  # both readers are waiting in Redis
        await raw(redis_server.url, "RPUSH", f"{prefix}:q:jobs", *GARBAGE)
        await raw(redis_server.url, "RPUSH", f"{prefix}:in:{layer.token}", *GARBAGE)
        await layer.send("jobs", {"type": "job"})
        await layer.send(channel, {"type": "direct"})
        assert (await asyncio.wait_for(named, 5))["type"] == "job"
        assert (await asyncio.wait_for(local, 5))["type"] == "direct"
        await layer.send(channel, {"type": "again"})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "again"
        assert layer.statistics().undecodable >= len(GARBAGE)
        await layer.flush()


async def test_pubsub_reader_drops_messages_it_cannot_decode_and_carries_on(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    async with RedisPubSubChannelLayer(hosts=[redis_server.url], prefix=prefix) as layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        head = channel.partition("!")[0]
        for data in GARBAGE:
            await raw(redis_server.url, "PUBLISH", f"{prefix}:c:{head}", data)
            await raw(redis_server.url, "PUBLISH", f"{prefix}:g:room", data)
        await layer.group_send("room", {"type": "fine"})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "fine"
        assert layer.statistics().undecodable >= len(GARBAGE)
        await layer.flush()


async def test_a_pubsub_message_naming_no_valid_channel_is_counted_and_logged(
    redis_server: RedisProcess, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """A direct message whose channel part is not UTF-8 reaches no mailbox: counted as
    undecodable and logged as dropped, like any other frame no layer wrote."""
    prefix = prefix_for(request)
    async with RedisPubSubChannelLayer(hosts=[redis_server.url], prefix=prefix) as layer:
        channel = await layer.new_channel()
        head = channel.partition("!")[0]
        data = layer.encode({"type": "hidden"})
        with caplog.at_level(logging.ERROR, logger="fast_channels.layers.redis.pubsub"):
            await raw(redis_server.url, "PUBLISH", f"{prefix}:c:{head}", b"!\xff\xfe\0" + data)
            await layer.send(channel, {"type": "fine"})
            assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "fine"
        assert layer.statistics().undecodable == 1
        assert [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]


class Greeter(AsyncWebsocketConsumer):
    """Joins "lobby" (slowly, as a real app might check a session first), then greets."""

    async def connect(self) -> None:
        await self.join_group("lobby")
        await asyncio.sleep(0.3)
        await self.accept()
        await self.send(text_data="welcome")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=f"got {len(text_data or bytes_data or '')}")

    async def lobby_news(self, message: Message) -> None:
        await self.send(text_data="news")


@contextlib.asynccontextmanager
async def serve_limited(app: ASGIApp, ws_max_size: int) -> AsyncGenerator[str]:
    """uvicorn with a WebSocket frame size limit (its ``--ws-max-size``)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        ws=WS_IMPL,
        ws_max_size=ws_max_size,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task
            await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def lobby(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> AsyncGenerator[tuple[str, RedisChannelLayer]]:
    """Greeter under uvicorn (64 KiB frame limit) on a queue layer; after the test, no
    membership of "lobby" may be left in Redis."""
    prefix = prefix_for(request)
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
    register_channel_layer("default", layer)
    app = Starlette(routes=[WebSocketRoute("/", Greeter.as_asgi())])
    async with layer, serve_limited(app, ws_max_size=64 * 1024) as url:
        yield url, layer
        deadline = time.monotonic() + 5
        while await raw(redis_server.url, "ZCARD", f"{prefix}:g:lobby") != 0:
            assert time.monotonic() < deadline, "a group membership was left behind"
            await asyncio.sleep(0.05)
        await layer.flush()


async def test_a_frame_over_the_server_limit_closes_only_that_socket(
    lobby: tuple[str, RedisChannelLayer], caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = lobby
    caplog.set_level(logging.WARNING, logger="fast_channels")
    async with connect(url) as good, connect(url, max_size=None) as bad:
        assert await recv_text(good) == "welcome"
        assert await recv_text(bad) == "welcome"
        await bad.send("x" * (64 * 1024))
        assert await recv_text(bad) == f"got {64 * 1024}"
        await bad.send("x" * (64 * 1024 + 1))
        assert (await closed_with(bad))[0] == CloseCode.MESSAGE_TOO_BIG
        await good.send(b"still here")
        assert await recv_text(good) == "got 10"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("fast_channels")] == []


def _abandon_handshake(port: int, *, whole_request: bool) -> None:
    """Open a TCP connection, send (part of) a WebSocket upgrade request, and go away."""
    request = (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request if whole_request else request[:40])
        if whole_request:
            time.sleep(0.1)  # the consumer is in connect(), joining its group
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


async def test_clients_leaving_mid_handshake_leave_no_trace(
    lobby: tuple[str, RedisChannelLayer], caplog: pytest.LogCaptureFixture
) -> None:
    url, layer = lobby
    caplog.set_level(logging.WARNING)
    port = int(url.rsplit(":", 1)[1])
    await asyncio.gather(
        *(asyncio.to_thread(_abandon_handshake, port, whole_request=i % 2 == 0) for i in range(20))
    )
    async with connect(url) as ws:
        assert await recv_text(ws) == "welcome"
        await layer.group_send("lobby", {"type": "lobby.news"})
        assert await recv_text(ws) == "news"
        await ws.send("ping")
        assert await recv_text(ws) == "got 4"
    await asyncio.sleep(0.5)  # the abandoned consumers finish their connect()
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [f"{r.name}: {r.getMessage()}" for r in problems] == []
