"""Real servers for end-to-end tests: uvicorn in this event loop, on a free loopback port.

Running uvicorn in the test's own loop lets a test share an ``InMemoryChannelLayer`` with
the consumers it serves. Clients are the ``websockets`` library's asyncio client.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Literal

import pytest
import uvicorn
import uvicorn.config

from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from tests.servers import free_port


def _ws_impl() -> str:
    """uvicorn's WebSocket protocol: its sans-I/O websockets one (uvicorn 0.35+), else
    wsproto. (Its legacy "websockets" protocol warns with the websockets >= 13 that our
    client needs, and warnings are errors here.)"""
    if "websockets-sansio" in uvicorn.config.WS_PROTOCOLS:
        return "websockets-sansio"
    if importlib.util.find_spec("wsproto") is not None:
        return "wsproto"
    return "websockets"


WS_IMPL = _ws_impl()


@contextlib.asynccontextmanager
async def serve(
    app: Callable[..., Awaitable[None]], *, lifespan: Literal["on", "off"] = "off"
) -> AsyncGenerator[str]:
    """Serve ``app`` (any ASGI app, typed by any framework) with uvicorn for the duration of
    the block; yields ``ws://host:port``.

    With ``lifespan="on"``, uvicorn refuses to start unless the app completes startup.
    """
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan=lifespan, log_level="warning", ws=WS_IMPL
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError(f"uvicorn stopped before serving on port {port}")
            await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def memory_layer() -> AsyncIterator[InMemoryChannelLayer]:
    """A fresh in-memory layer registered as "default" (the registry is reset after)."""
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    yield layer
    await layer.aclose()
