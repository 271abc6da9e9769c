"""Starlette (1.x style routing) under uvicorn, driven by real WebSocket clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from fast_channels.layers import InMemoryChannelLayer
from tests.e2e.apps import starlette_app
from tests.e2e.client import recv_json, recv_text
from tests.e2e.conftest import serve


@pytest.fixture
async def base(memory_layer: InMemoryChannelLayer) -> AsyncIterator[str]:
    """The Starlette app under uvicorn; nothing may be left in the layer afterwards."""
    async with serve(starlette_app()) as url:
        yield url
    stats = memory_layer.statistics()
    assert (stats.groups, stats.waiting_receivers, stats.channels) == (0, 0, 0)


async def test_group_broadcast_between_two_clients(base: str) -> None:
    async with connect(f"{base}/chat") as one:
        assert await recv_text(one) == "Someone joined the chat"
        async with connect(f"{base}/chat") as two:
            assert await recv_text(two) == "Someone joined the chat"
            assert await recv_text(one) == "Someone joined the chat"
            await two.send("from two")
            assert await recv_text(one) == "Message: from two"
            assert await recv_text(two) == "Message: from two"


async def test_mounted_route_gets_path_params(base: str) -> None:
    async with connect(f"{base}/ws/rooms/green?a=1") as ws:
        hello = await recv_json(ws)
        assert (hello["room"], hello["query"]) == ("green", "a=1")


async def test_the_authenticated_user_is_in_the_consumer_scope(base: str) -> None:
    async with connect(f"{base}/whoami?token=secret-token") as ws:
        assert await recv_json(ws) == {"user": "alice"}


@pytest.mark.parametrize("query", ["", "?token=forged"])
async def test_anonymous_and_bad_tokens_are_refused(base: str, query: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{base}/whoami{query}"):
            pass
    assert info.value.response.status_code == 403


async def test_origin_validator_admits_allowed_origins(base: str) -> None:
    async with connect(f"{base}/guarded", origin=Origin("https://good.example")) as ws:
        assert (await recv_json(ws))["room"] == "lobby"
        await ws.send(json.dumps("hi"))
        assert await recv_json(ws) == "hi"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://good.example", None])
async def test_origin_validator_rejects_other_origins(base: str, origin: str | None) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{base}/guarded", origin=Origin(origin) if origin else None):
            pass
    assert info.value.response.status_code == 403
