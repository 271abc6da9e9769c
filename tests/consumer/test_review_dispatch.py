"""Regression tests for the per-(class, type) handler cache of ``AsyncConsumer.dispatch``."""

from __future__ import annotations

from typing import cast

import pytest

from fast_channels.consumer import AsyncConsumer, AsyncWebsocketConsumer
from fast_channels.exceptions import UnknownMessageTypeError
from fast_channels.types import Message


async def test_cache_is_per_class_and_api_names_stay_refused() -> None:
    calls: list[str] = []

    class Base(AsyncWebsocketConsumer):
        async def app_send(self, message: Message) -> None:
            calls.append("base")

    class Child(Base):
        async def app_send(self, message: Message) -> None:
            calls.append("child")

    for _ in range(2):
        await Base().dispatch({"type": "app.send"})
        await Child().dispatch({"type": "app_send"})
    assert calls == ["base", "child"] * 2
    for kind in ("send", "dispatch", "_private", "", "nope"):
        with pytest.raises(UnknownMessageTypeError):
            await Child().dispatch({"type": kind})
    for bad in (None, 3, b"app.send"):
        with pytest.raises(UnknownMessageTypeError):
            await Child().dispatch(cast(Message, {"type": bad}))


async def test_an_async_instance_override_of_a_cached_handler_is_called() -> None:
    calls: list[str] = []

    class Room(AsyncConsumer):
        async def ping(self, message: Message) -> None:
            calls.append("class")

    async def ping(message: Message) -> None:
        calls.append("instance")

    await Room().dispatch({"type": "ping"})
    custom = Room()
    vars(custom)["ping"] = ping
    await custom.dispatch({"type": "ping"})
    await Room().dispatch({"type": "ping"})
    assert calls == ["class", "instance", "class"]
