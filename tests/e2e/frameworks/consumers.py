"""The consumers every framework app serves (see the package's notes)."""

from __future__ import annotations

from typing import Any

from fast_channels.consumer import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from fast_channels.types import Message


class EchoConsumer(AsyncWebsocketConsumer):
    """Sends each text frame back to its sender; needs no layer."""

    channel_layer_alias = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data or "")


class RoomConsumer(AsyncJsonWebsocketConsumer):
    """Joins the room its path names, relays JSON to the room, says when someone left.

    Its greeting shows the parameters as it found them: ``path_params`` and
    ``url_route["kwargs"]`` (None if there were no ``url_route``)."""

    async def connect(self) -> None:
        params: dict[str, Any] = self.scope["path_params"]
        self.room = str(params["room"])
        await self.join_group(f"room-{self.room}")
        await self.accept()
        url_route: dict[str, Any] | None = self.scope.get("url_route")
        await self.send_json(
            {
                "path_params": dict(params),
                "url_route_kwargs": None if url_route is None else dict(url_route["kwargs"]),
            }
        )

    async def receive_json(self, content: Any) -> None:
        await self.channel_layer.group_send(
            f"room-{self.room}", {"type": "room.message", "content": content}
        )

    async def disconnect(self, code: int, /) -> None:
        await self.channel_layer.group_send(
            f"room-{self.room}", {"type": "room.message", "content": {"left": self.room}}
        )

    async def room_message(self, message: Message) -> None:
        await self.send_json(message["content"])
