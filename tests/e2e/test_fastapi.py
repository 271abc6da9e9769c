"""FastAPI under uvicorn, driven by real WebSocket clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from fast_channels.layers import InMemoryChannelLayer
from tests.e2e.apps import fastapi_app
from tests.e2e.client import closed_with, recv_json, recv_text
from tests.e2e.conftest import serve


@pytest.fixture
async def base(memory_layer: InMemoryChannelLayer) -> AsyncIterator[str]:
    """The README-style FastAPI app under uvicorn, with an in-memory "default" layer.

    After the server stopped (uvicorn waits for its connections' tasks), no consumer may
    have left a group membership or a waiting receive behind.
    """
    async with serve(fastapi_app()) as url:
        yield url
    stats = memory_layer.statistics()
    assert (stats.groups, stats.waiting_receivers, stats.channels) == (0, 0, 0)


async def test_readme_chat_between_two_clients(base: str) -> None:
    async with connect(f"{base}/ws/chat") as alice:
        assert await recv_text(alice) == "Someone joined the chat"
        async with connect(f"{base}/ws/chat") as bob:
            assert await recv_text(bob) == "Someone joined the chat"
            assert await recv_text(alice) == "Someone joined the chat"
            await alice.send("hello")
            assert await recv_text(alice) == "Message: hello"
            assert await recv_text(bob) == "Message: hello"
        assert await recv_text(alice) == "Someone left the chat"


async def test_path_params_query_string_and_subprotocol(base: str) -> None:
    url = f"{base}/ws/rooms/blue?since=5&x=%20"
    protocols = [Subprotocol("v0"), Subprotocol("chat")]
    async with connect(url, subprotocols=protocols) as ws:
        assert ws.subprotocol == "chat"
        assert await recv_json(ws) == {
            "room": "blue",
            "query": "since=5&x=%20",
            "subprotocol": "chat",
            "greeting": None,
        }


async def test_a_native_endpoint_hands_its_websocket_to_a_consumer(base: str) -> None:
    async with connect(f"{base}/native/ada") as ws:
        hello = await recv_json(ws)
        assert hello["greeting"] == "hello ada"
        await ws.send(json.dumps("relayed"))
        assert await recv_json(ws) == "relayed"


async def test_rooms_broadcast_only_to_their_members(base: str) -> None:
    async with (
        connect(f"{base}/ws/rooms/a") as a1,
        connect(f"{base}/ws/rooms/a") as a2,
        connect(f"{base}/ws/rooms/b") as b1,
    ):
        for ws in (a1, a2, b1):
            await recv_json(ws)
        await a1.send(json.dumps({"n": 1}))
        assert await recv_json(a1) == {"n": 1}
        assert await recv_json(a2) == {"n": 1}
        await b1.send(json.dumps({"n": 2}))
        assert await recv_json(b1) == {"n": 2}
        await a2.send(json.dumps({"n": 3}))
        assert await recv_json(a1) == {"n": 3}


async def test_close_code_and_reason_reach_the_client(base: str) -> None:
    async with connect(f"{base}/ws/rooms/c") as ws:
        await recv_json(ws)
        await ws.send(json.dumps("close"))
        assert await closed_with(ws) == (4001, "asked to close")


async def test_deny_connection_is_a_403(base: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{base}/ws/rooms/d?deny=1"):
            pass
    assert info.value.response.status_code == 403


@pytest.mark.parametrize(
    ("frame", "code"),
    [("{not json", 1007), (b"\x00binary", 1003), ('"crash"', 1011)],
    ids=["malformed-json", "binary-frame", "consumer-exception"],
)
async def test_bad_input_closes_only_that_connection(
    base: str, frame: str | bytes, code: int
) -> None:
    async with connect(f"{base}/ws/rooms/e") as good, connect(f"{base}/ws/rooms/e") as bad:
        await recv_json(good)
        await recv_json(bad)
        await bad.send(frame)
        assert (await closed_with(bad))[0] == code
        await good.send(json.dumps("still here"))
        assert await recv_json(good) == "still here"
        async with connect(f"{base}/ws/rooms/e") as newcomer:
            await recv_json(newcomer)
            await good.send(json.dumps("and more"))
            assert await recv_json(newcomer) == "and more"
            assert await recv_json(good) == "and more"


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("bad_group", "InvalidGroupNameError"),
        ("long_group", "InvalidGroupNameError"),
        ("bad_channel", "InvalidChannelNameError"),
        ("not_dict", "MessageTypeError"),
        ("no_type", "InvalidMessageError"),
        ("unserializable", "UnserializableMessageError"),
        ("a_set", "UnserializableMessageError"),
        ("fine", None),
    ],
)
async def test_layer_misuse_gets_the_typed_error_and_the_server_keeps_serving(
    base: str, kind: str, error: str | None
) -> None:
    async with connect(f"{base}/ws/misuse") as ws, connect(f"{base}/ws/rooms/f") as other:
        await recv_json(other)
        await ws.send(json.dumps({"try": kind}))
        reply = await recv_json(ws)
        assert reply["error"] == error
        if error is not None:
            assert reply["message"]
        await other.send(json.dumps("unaffected"))
        assert await recv_json(other) == "unaffected"
