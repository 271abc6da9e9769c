"""Real servers for end-to-end tests: uvicorn in this event loop, on a free loopback port.

Running uvicorn in the test's own loop lets a test share an ``InMemoryChannelLayer`` with
the consumers it serves. Clients are the ``websockets`` library's asyncio client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import pytest
import uvicorn
import uvicorn.config

from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.types import ASGIApp
from tests.servers import free_port

# uvicorn's legacy "websockets" protocol warns on websockets >= 14; prefer the sans-I/O
# one where this uvicorn has it (0.35+), else the legacy one (oldest supported pins).
WS_IMPL = (
    "websockets-sansio" if "websockets-sansio" in uvicorn.config.WS_PROTOCOLS else "websockets"
)


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncGenerator[str]:
    """Serve ``app`` with uvicorn for the duration of the block; yields ``ws://host:port``."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws=WS_IMPL
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
