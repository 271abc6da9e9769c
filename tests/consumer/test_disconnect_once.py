"""``disconnect(code)`` runs exactly once for every connection whose ``connect()`` ran,
however the connection ended, after its groups were left."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.exceptions import StopConsumer
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.status import CloseCode
from fast_channels.testing import WebsocketCommunicator


class CleansUp(AsyncWebsocketConsumer):
    """Joins a room; frames choose how the connection ends; disconnect() records itself."""

    groups = ["room"]
    calls: list[tuple[int, int]] = []  # (code, members of "room" left when it ran)
    in_connect: str | None = None

    async def connect(self) -> None:
        if CleansUp.in_connect == "raise":
            raise RuntimeError("connect failed")
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "raise":
            raise RuntimeError("handler bug")
        if text_data == "stop":
            raise StopConsumer
        if text_data == "close":
            await self.close(4000)
        if text_data == "hang":
            await asyncio.Event().wait()

    async def disconnect(self, code: int) -> None:
        layer = self.channel_layer
        assert isinstance(layer, InMemoryChannelLayer)
        CleansUp.calls.append((code, len(layer.local.group_channels("room"))))


@pytest.fixture(autouse=True)
def fresh_records() -> None:
    CleansUp.calls.clear()
    CleansUp.in_connect = None


async def test_a_handler_that_raises_still_gets_disconnect_with_1011(
    memory_layer: InMemoryChannelLayer,
) -> None:
    client = WebsocketCommunicator(CleansUp, "/")
    await client.connect()
    await client.send_to(text_data="raise")
    with pytest.raises(RuntimeError, match="handler bug"):
        await client.receive_output()
    assert CleansUp.calls == [(CloseCode.INTERNAL_ERROR, 0)]
    assert (await client.receive_output())["code"] == CloseCode.INTERNAL_ERROR


async def test_connect_that_raises_still_gets_disconnect(
    memory_layer: InMemoryChannelLayer,
) -> None:
    CleansUp.in_connect = "raise"
    client = WebsocketCommunicator(CleansUp, "/")
    with pytest.raises(RuntimeError, match="connect failed"):
        await client.connect()
    assert CleansUp.calls == [(CloseCode.INTERNAL_ERROR, 0)]


async def test_stop_consumer_gets_disconnect_with_1000(
    memory_layer: InMemoryChannelLayer,
) -> None:
    client = WebsocketCommunicator(CleansUp, "/")
    await client.connect()
    await client.send_to(text_data="stop")
    assert (await client.receive_output())["code"] == CloseCode.NORMAL_CLOSURE
    await client.wait()
    assert CleansUp.calls == [(CloseCode.NORMAL_CLOSURE, 0)]


async def test_the_peer_leaving_runs_disconnect_once_with_its_code(
    memory_layer: InMemoryChannelLayer,
) -> None:
    client = WebsocketCommunicator(CleansUp, "/")
    await client.connect()
    await client.send_to(text_data="close")
    assert (await client.receive_output())["code"] == 4000
    await client.disconnect(code=4000)
    assert CleansUp.calls == [(4000, 0)]


async def test_a_cancelled_consumer_still_gets_disconnect(
    memory_layer: InMemoryChannelLayer,
) -> None:
    client = WebsocketCommunicator(CleansUp, "/")
    await client.connect()
    await client.send_to(text_data="hang")
    assert await client.receive_nothing()
    await client.stop()
    assert CleansUp.calls == [(CloseCode.ABNORMAL_CLOSURE, 0)]


async def test_a_disconnect_that_raises_at_the_end_is_logged_once(
    memory_layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    class FailsToCleanUp(CleansUp):
        async def disconnect(self, code: int) -> None:
            await super().disconnect(code)
            raise ValueError("cleanup bug")

    client = WebsocketCommunicator(FailsToCleanUp, "/")
    await client.connect()
    await client.send_to(text_data="stop")
    await client.receive_output()
    with caplog.at_level(logging.ERROR, logger="fast_channels.consumer"):
        await client.wait()
    assert CleansUp.calls == [(CloseCode.NORMAL_CLOSURE, 0)]
    failures = [r for r in caplog.records if "disconnect() failed" in r.getMessage()]
    assert len(failures) == 1
    assert "cleanup bug" in failures[0].getMessage()
