"""Client-side checks of :class:`~tests.e2e.frameworks.probe.ProbeConsumer` at ``url``
(``ws://host:port/ws/probe/`` in every framework app)."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from tests.e2e.client import closed_with, recv_text


async def check_accept_frames_and_close(url: str, *, spec_2_0: bool = False) -> None:
    """Subprotocol and accept headers reach the client; binary frames pass; the close code
    and reason the consumer chose reach the client.

    ``spec_2_0``: the server speaks ASGI's WebSocket spec 2.0 (daphne), which has neither
    accept headers (2.1) nor close reasons (2.3): those are then not expected.
    """
    async with connect(url, subprotocols=[Subprotocol("v0"), Subprotocol("chat")]) as ws:
        assert ws.subprotocol == "chat"
        assert ws.response is not None
        assert ws.response.headers.get("x-probe") == (None if spec_2_0 else "yes")
        await ws.send(b"\x01\x02\x03")
        assert await ws.recv() == b"\x03\x02\x01"
        await ws.send("text")
        assert await recv_text(ws) == "text"
        await ws.send("close")
        assert await closed_with(ws) == (4001, "" if spec_2_0 else "asked to close")


async def check_denied(url: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{url}?deny"):
            pass
    assert refused.value.response.status_code == 403


async def check_crash_closes_only_that_socket(url: str) -> None:
    async with connect(url) as good, connect(url) as bad:
        await bad.send("crash")
        assert (await closed_with(bad))[0] == 1011
        await good.send("still here")
        assert await recv_text(good) == "still here"
