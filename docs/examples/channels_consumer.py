"""A Django Channels chat consumer, ported: only the import changed.

The room comes from the route (``scope["url_route"]["kwargs"]``, as Channels fills it;
``scope["path_params"]`` holds the same); every member of the room's group gets each
message.
"""

import json
from typing import Any

# Django Channels: from channels.generic.websocket import AsyncWebsocketConsumer
from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.types import Message


class RoomChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.room_name: str = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code: int) -> None:
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        message = json.loads(text_data or "{}").get("message", "")
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", "message": message}
        )

    async def chat_message(self, event: Message) -> None:
        await self.send(text_data=json.dumps({"message": event["message"]}))
