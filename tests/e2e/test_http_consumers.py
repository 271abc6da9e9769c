"""HTTP consumers under uvicorn with a real HTTP client: Server-Sent Events streamed from
group messages, long-polling, and the client leaving (docs/examples/sse.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from docs.examples.sse import app
from fast_channels.layers import InMemoryChannelLayer
from tests.e2e.conftest import serve

DEADLINE = 10.0


@pytest.fixture
async def base(memory_layer: InMemoryChannelLayer) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url.replace("ws://", "http://")


async def until_members(layer: InMemoryChannelLayer, count: int) -> None:
    """Wait until ``count`` consumers are in "news" (polled, with a generous deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while len(layer.local.group_channels("news")) != count:
        if loop.time() > deadline:
            raise AssertionError(f"expected {count} members of 'news', {layer.statistics()}")
        await asyncio.sleep(0.01)


async def test_sse_streams_group_messages_until_the_client_leaves(
    base: str, memory_layer: InMemoryChannelLayer
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=DEADLINE) as client:
        async with client.stream("GET", "/news/stream") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"] == "text/event-stream"
            lines = stream.aiter_lines()
            assert await anext(lines) == ": connected"
            await until_members(memory_layer, 1)
            for headline in ("first", "second"):
                assert (await client.post("/news", content=headline)).status_code == 204
                assert await anext(lines) == ""
                assert await anext(lines) == "event: news"
                assert json.loads((await anext(lines)).removeprefix("data: ")) == {
                    "headline": headline
                }
        await until_members(memory_layer, 0)  # the consumer saw the client leave


async def test_long_poll_is_answered_by_the_next_message(
    base: str, memory_layer: InMemoryChannelLayer
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=DEADLINE) as client:
        polls = [asyncio.create_task(client.get("/news/poll")) for _ in range(2)]
        await until_members(memory_layer, 2)
        assert (await client.post("/news", content="breaking")).status_code == 204
        for poll in polls:
            response = await poll
            assert response.status_code == 200
            assert response.json() == {"headline": "breaking"}
        await until_members(memory_layer, 0)
