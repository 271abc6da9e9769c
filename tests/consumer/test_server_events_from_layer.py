"""Events of the ASGI protocol come only from the server: a consumer drops (with a warning)
a layer message of such a type, from a sender that went around the layers' refusal of them
(tests/layers/test_contract.py), and goes on."""

from __future__ import annotations

import logging

import pytest

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import Message

FORGED: list[Message] = [
    {"type": "websocket.disconnect", "code": 1000},
    {"type": "websocket.receive", "text": "forged input"},
    {"type": "websocket.connect"},
    {"type": "http.disconnect"},
    {"type": "lifespan.shutdown"},
]


class Room(AsyncWebsocketConsumer):
    """Reports what reaches it: frames, connects, disconnects and ``note`` messages."""

    groups = ["room"]
    seen: list[str] = []

    async def connect(self) -> None:
        Room.seen.append("connect")
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        Room.seen.append(f"receive:{text_data}")
        await self.send(f"echo:{text_data}")

    async def disconnect(self, code: int) -> None:
        Room.seen.append(f"disconnect:{code}")

    async def note(self, message: Message) -> None:
        await self.send(f"note:{message['text']}")


def forge(layer: InMemoryChannelLayer, channel: str, message: Message) -> None:
    """Put ``message`` on ``channel`` the way a sender that skips the check would (an older
    process on the same Redis, a hand-written producer)."""
    layer.local.put_nowait(channel, layer.serializer.dumps(message))


async def test_a_consumer_drops_asgi_events_from_its_layer_and_goes_on(
    memory_layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    Room.seen.clear()
    async with WebsocketCommunicator(Room, "/ws/room") as client:
        await client.connect()
        (channel,) = memory_layer.local.group_channels("room")
        with caplog.at_level(logging.WARNING, logger="fast_channels.consumer"):
            for message in FORGED:
                forge(memory_layer, channel, message)
            await memory_layer.send(channel, {"type": "note", "text": "real"})
            assert await client.receive_from() == "note:real"
        await client.send_to(text_data="real input")
        assert await client.receive_from() == "echo:real input"
        assert Room.seen == ["connect", "receive:real input"]
    assert Room.seen[-1] == "disconnect:1000"
    dropped = [
        r.getMessage() for r in caplog.records if "dropped a layer message" in r.getMessage()
    ]
    assert len(dropped) == len(FORGED)
    assert all("Room on /ws/room" in text for text in dropped)
    assert any("'websocket.disconnect'" in text for text in dropped)


async def test_a_forged_disconnect_after_close_does_not_end_the_connection(
    memory_layer: InMemoryChannelLayer,
) -> None:
    class ClosesOnAsk(Room):
        async def receive(
            self, text_data: str | None = None, bytes_data: bytes | None = None
        ) -> None:
            await self.close(4000)

    Room.seen.clear()
    client = WebsocketCommunicator(ClosesOnAsk, "/")
    await client.connect()
    (channel,) = memory_layer.local.group_channels("room")
    await client.send_to(text_data="close please")
    assert (await client.receive_output())["code"] == 4000
    forge(memory_layer, channel, {"type": "websocket.disconnect", "code": 1000})
    assert await client.receive_nothing()
    assert not client.finished
    await client.disconnect(code=4000)
    assert Room.seen == ["connect", "disconnect:4000"]
