"""A chat room per URL, and an HTTP endpoint that posts into a room (the README's first example).

Run it with ``uvicorn docs.examples.quickstart:app``."""

from typing import Any

from fastapi import FastAPI

from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer
from fast_channels.layers import InMemoryChannelLayer, get_channel_layer, register_channel_layer
from fast_channels.types import Message

register_channel_layer("default", InMemoryChannelLayer())  # or RedisChannelLayer(hosts=[url])


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.room = f"chat.{self.scope['path_params']['room']}"  # path parameter -> group
        await self.join_group(self.room)  # left by itself when the socket closes
        await self.accept()

    async def receive_json(self, content: Any) -> None:
        message = {"type": "chat.message", "text": content["text"]}
        await self.channel_layer.group_send(self.room, message)  # to every member

    async def chat_message(self, event: Message) -> None:  # handles type "chat.message"
        await self.send_json({"text": event["text"]})


app = FastAPI()
app.router.add_websocket_route("/ws/chat/{room}", ChatConsumer.as_asgi())


@app.post("/rooms/{room}/announce")
async def announce(room: str, text: str) -> None:  # from HTTP (or a worker) into a room
    await get_channel_layer().group_send(f"chat.{room}", {"type": "chat.message", "text": text})
