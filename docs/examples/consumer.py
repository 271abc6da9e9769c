"""A chat consumer: one room for everybody.

Every connection joins the ``chat_room`` group; what one client sends reaches all.
"""

from typing import Any

from fast_channels.consumer.websocket import AsyncWebsocketConsumer
from fast_channels.types import Message


class ChatConsumer(AsyncWebsocketConsumer):
    groups = ["chat_room"]
    channel_layer_alias = "default"  # Use registered layer

    async def connect(self) -> None:
        await self.accept()
        await self.channel_layer.group_send(
            "chat_room", {"type": "chat_message", "message": "Someone joined the chat"}
        )

    async def disconnect(self, close_code: int) -> None:
        await self.channel_layer.group_send(
            "chat_room", {"type": "chat_message", "message": "Someone left the chat"}
        )

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        await self.channel_layer.group_send(
            "chat_room", {"type": "chat_message", "message": f"Message: {text_data}"}
        )

    async def chat_message(self, event: Message) -> None:
        # Send message to WebSocket
        await self.send(event["message"])
