"""1,000 WebSocket consumers under uvicorn connect, join a group, get a group message and
disconnect at the same moment, on each Redis layer: no error anywhere, no membership left.

uvicorn serves in the test's event loop; the 1,000 clients run in another process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import resource
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import ClientConnection, connect

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.layers import register_channel_layer
from fast_channels.types import Message
from tests.e2e.conftest import serve
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.resilience.traffic import ResultQueue, build_layer
from tests.servers import RedisProcess

pytestmark = [pytest.mark.redis]

CLIENTS = 1000
GROUP = "burst"


class BurstConsumer(AsyncWebsocketConsumer):
    """Joins the group before accepting; relays the group's message to its client."""

    async def connect(self) -> None:
        await self.join_group(GROUP)
        await self.accept()
        await self.send(text_data="joined")

    async def burst_hello(self, message: Message) -> None:
        await self.send(text_data="hello")


def client_main(url: str, count: int, results: ResultQueue, go: Any) -> None:
    """Open ``count`` sockets at once, wait for "joined" then "hello" on each, then close
    them all at once when ``go`` is set; report the errors."""

    async def one(errors: list[str], opened: list[ClientConnection]) -> None:
        try:
            ws = await connect(url, open_timeout=60, close_timeout=30)
            opened.append(ws)
            if await ws.recv() != "joined":
                errors.append("no 'joined'")
        except Exception as exc:
            errors.append(repr(exc))

    async def main() -> None:
        errors: list[str] = []
        opened: list[ClientConnection] = []
        await asyncio.gather(*(one(errors, opened) for _ in range(count)))
        results.put(("joined", len(opened), errors))

        async def hello(ws: ClientConnection) -> None:
            try:
                if await asyncio.wait_for(ws.recv(), 60) != "hello":
                    errors.append("no 'hello'")
            except Exception as exc:
                errors.append(repr(exc))

        await asyncio.gather(*(hello(ws) for ws in opened))
        await asyncio.to_thread(go.wait, 60)
        started = time.monotonic()
        closes = await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
        errors += [repr(c) for c in closes if c is not None]
        results.put(("closed", time.monotonic() - started, errors))

    _raise_fd_limit()
    asyncio.run(main())


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * CLIENTS + 1024
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


@pytest.fixture
def fd_limit() -> Iterator[None]:
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    _raise_fd_limit()
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, saved)


async def _memberships(kind: str, url: str, prefix: str) -> int:
    if kind == "queue":
        return int(str(await raw(url, "ZCARD", f"{prefix}:g:{GROUP}")))
    reply = await raw(url, "PUBSUB", "NUMSUB", f"{prefix}:g:{GROUP}")
    if not isinstance(reply, list):
        raise AssertionError(f"PUBSUB NUMSUB answered {reply!r}")
    return int(str(cast(list[object], reply)[1]))


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("kind", ["queue", "pubsub"])
async def test_thousand_consumers_join_and_leave_at_once(
    kind: str,
    redis_server: RedisProcess,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    fd_limit: None,
) -> None:
    caplog.set_level(logging.WARNING)
    prefix = prefix_for(request, kind)
    layer = build_layer(kind, {"hosts": [redis_server.url], "prefix": prefix})
    register_channel_layer("default", layer)
    app = Starlette(routes=[WebSocketRoute("/burst", BurstConsumer.as_asgi())])
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[Any] = ctx.Queue()
    go = ctx.Event()
    async with layer, serve(app) as base:
        started = time.monotonic()
        client = ctx.Process(
            target=client_main, args=(f"{base}/burst", CLIENTS, results, go), daemon=True
        )
        client.start()
        try:
            _, opened, errors = await asyncio.to_thread(results.get, True, 90)
            joined_in = time.monotonic() - started
            assert (opened, errors) == (CLIENTS, [])
            if kind == "queue":
                assert await _memberships(kind, redis_server.url, prefix) == CLIENTS
            else:
                assert layer.statistics().groups == 1
            await layer.group_send(GROUP, {"type": "burst.hello"})
            go.set()
            _, close_seconds, errors = await asyncio.to_thread(results.get, True, 90)
            assert errors == []
            deadline = time.monotonic() + 30
            while (
                await _memberships(kind, redis_server.url, prefix) != 0
                or layer.statistics().groups != 0
            ):
                assert time.monotonic() < deadline, "memberships left behind"
                await asyncio.sleep(0.05)
            left_in = time.monotonic() - started - joined_in
        finally:
            client.join(30)
            if client.is_alive():
                client.kill()
        stats = layer.statistics()
        await layer.flush()
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    print(
        f"\n[resilience] burst/{kind}: {CLIENTS} consumers joined in {joined_in:.2f}s, "
        f"closed in {close_seconds:.2f}s, all memberships gone {left_in:.2f}s after the "
        f"group message; stats extra {stats.extra}"
    )
    assert [r.getMessage() for r in problems] == []
    assert stats.extra.get("redis_errors", 0) == 0
    assert stats.waiting_receivers == 0
