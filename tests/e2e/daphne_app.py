"""The application the daphne tests serve (``daphne tests.e2e.daphne_app:application``).

daphne sends no lifespan events, so the layer is registered at import, as an application
served by daphne does it. ``/ws/watch`` relays what the other consumers report through the
layer; ``/ws/json`` is a JSON consumer whose ``disconnect(code)`` reports itself there.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.layers import InMemoryChannelLayer, has_layers, register_channel_layer
from fast_channels.types import Message

if not has_layers():
    register_channel_layer("default", InMemoryChannelLayer())


class Watcher(AsyncJsonWebsocketConsumer):
    """Joins ``events`` and forwards each report to its client."""

    groups = ["events"]

    async def event(self, message: Message) -> None:
        await self.send_json(message["text"])


class JsonEcho(AsyncJsonWebsocketConsumer):
    """Echoes JSON; ``"crash"`` raises; ``disconnect(code)`` reports to the watchers."""

    async def receive_json(self, content: Any) -> None:
        if content == "crash":
            raise RuntimeError("consumer bug (expected by the test)")
        await self.send_json(content)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_send("events", {"type": "event", "text": f"bye {code}"})


application = Starlette(
    routes=[
        WebSocketRoute("/ws/watch", Watcher.as_asgi()),
        WebSocketRoute("/ws/json", JsonEcho.as_asgi()),
    ]
)
