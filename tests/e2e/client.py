"""Small helpers over the ``websockets`` client for the end-to-end tests."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


async def recv_text(ws: ClientConnection) -> str:
    """The next frame, which must be text."""
    frame = await ws.recv()
    if not isinstance(frame, str):
        raise AssertionError(f"expected a text frame, got {frame!r}")
    return frame


async def recv_json(ws: ClientConnection) -> Any:
    """The next frame, decoded from JSON."""
    return json.loads(await recv_text(ws))


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """Wait for the server to close ``ws``; its close code and reason."""
    try:
        frame = await ws.recv()
    except ConnectionClosed as closed:
        if closed.rcvd is None:
            raise AssertionError("the connection dropped without a close frame") from closed
        return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError(f"expected the server to close, got a frame {frame!r}")
