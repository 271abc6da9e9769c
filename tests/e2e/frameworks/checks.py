"""Client-side checks of the common behaviour (see the package's notes), over the network.

Each takes the server's base URL, ``ws://host:port`` (HTTP goes to the same host and port).
Any server serving any framework app of this package must pass all of them.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.client import recv_json, recv_text


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status: int = response.status
            return status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def http_get(url: str) -> tuple[int, str]:
    """GET ``url`` (from a thread, with the standard library): its status and body."""
    return await asyncio.to_thread(_get, url)


async def check_http(base: str, framework: str) -> None:
    """The framework's own HTTP handler answers beside the consumers."""
    answer = await http_get(base.replace("ws://", "http://", 1) + "/hello/")
    assert answer == (200, f"hello from {framework}")


async def check_echo(base: str) -> None:
    async with connect(f"{base}/ws/echo/") as ws:
        for text in ("one", "two", "ünïcode"):
            await ws.send(text)
            assert await recv_text(ws) == text


async def check_rooms(base: str) -> None:
    """Path parameters reach the consumer, in ``path_params`` and in Channels'
    ``url_route["kwargs"]`` alike; groups relay within one room only."""
    async with (
        connect(f"{base}/ws/rooms/blue/") as blue1,
        connect(f"{base}/ws/rooms/blue/") as blue2,
        connect(f"{base}/ws/rooms/red/") as red,
    ):
        for ws, room in ((blue1, "blue"), (blue2, "blue"), (red, "red")):
            assert await recv_json(ws) == {
                "path_params": {"room": room},
                "url_route_kwargs": {"room": room},
            }
        await blue1.send(json.dumps({"n": 1}))
        assert await recv_json(blue1) == {"n": 1}
        assert await recv_json(blue2) == {"n": 1}
        await red.send(json.dumps({"n": 2}))
        assert await recv_json(red) == {"n": 2}
        await blue2.close()
        assert await recv_json(blue1) == {"left": "blue"}
        await blue1.send(json.dumps({"n": 3}))
        assert await recv_json(blue1) == {"n": 3}


async def check_unknown_websocket_path_is_refused(base: str) -> None:
    """A handshake to a path no route serves is refused with an HTTP error, not left open."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{base}/ws/nowhere/"):
            pass
    assert 400 <= refused.value.response.status_code < 500
