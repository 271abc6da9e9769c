"""The resync notice: how a layer tells local receivers that messages may be missing."""

from __future__ import annotations

import logging

import pytest

from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer
from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.layers.base import RESYNC_MESSAGE_TYPE
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import Message


class Announcing(InMemoryChannelLayer):
    """An in-memory layer that can be told to announce a resync, as a backend would."""

    def resync(
        self, reason: str, *, lost: int | None = None, channels: list[str] | None = None
    ) -> int:
        return self._announce_resync(reason, lost=lost, channels=channels)


async def test_notice_reaches_members_and_waiting_channels_past_capacity(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = Announcing(capacity=1)
    member = await layer.new_channel()
    full = await layer.new_channel()
    await layer.group_add("room", member)
    await layer.send(full, {"type": "first"})  # full: capacity 1

    with caplog.at_level(logging.WARNING, "fast_channels.layers"):
        told = layer.resync("redis restarted", lost=3)

    assert told == 2
    assert await layer.receive(member) == {
        "type": RESYNC_MESSAGE_TYPE,
        "reason": "redis restarted",
        "lost": 3,
    }
    assert (await layer.receive(full))["type"] == "first"
    assert (await layer.receive(full))["type"] == RESYNC_MESSAGE_TYPE
    assert layer.statistics().resyncs == 2
    assert "messages may have been lost (redis restarted; lost: 3)" in caplog.text
    await layer.aclose()


async def test_notice_to_named_channels_only() -> None:
    layer = Announcing()
    one, other = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room", other)
    assert layer.resync("subscriber reconnected", channels=[one]) == 1
    assert (await layer.receive(one))["lost"] is None
    assert layer.local.pending(other) == 0
    await layer.aclose()


async def test_closed_layer_tells_nobody() -> None:
    layer = Announcing()
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    await layer.aclose()
    assert layer.resync("gone") == 0


class Plain(AsyncJsonWebsocketConsumer):
    groups = ("room",)

    async def chat(self, message: Message) -> None:
        await self.send_json({"text": message["text"]})


class Resyncing(Plain):
    async def layer_reconnected(self, message: Message) -> None:
        await self.send_json({"resync": message["reason"], "lost": message["lost"]})


async def test_consumer_hook_gets_the_notice_and_default_ignores_it() -> None:
    layer = Announcing()
    register_channel_layer("default", layer)
    resyncing = WebsocketCommunicator(Resyncing, "/ws")
    plain = WebsocketCommunicator(Plain, "/ws")
    assert (await resyncing.connect())[0]
    assert (await plain.connect())[0]

    layer.resync("flushed", lost=None)
    await layer.group_send("room", {"type": "chat", "text": "after"})

    assert await resyncing.receive_json_from() == {"resync": "flushed", "lost": None}
    assert await resyncing.receive_json_from() == {"text": "after"}
    assert await plain.receive_json_from() == {"text": "after"}  # the notice did nothing
    await resyncing.disconnect()
    await plain.disconnect()
    await layer.aclose()
