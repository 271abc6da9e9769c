"""A chat room written with plain ``def`` methods: a synchronous consumer.

Each method runs in a thread, so it may block (a sync database driver, Django's ORM, a
sync SDK); ``self.send_json()`` and ``self.channel_layer.group_send_sync()`` block until
done. Mount it as ``app.router.add_websocket_route("/ws/chat", ChatConsumer.as_asgi())``.
"""

from typing import Any

from fast_channels.consumer import JsonWebsocketConsumer
from fast_channels.types import Message


class ChatConsumer(JsonWebsocketConsumer):
    groups = ["lobby"]

    def receive_json(self, content: Any) -> None:
        message = {"type": "chat.message", "text": content["text"]}
        self.channel_layer.group_send_sync("lobby", message)  # to every member

    def chat_message(self, event: Message) -> None:  # handles type "chat.message"
        self.send_json({"text": event["text"]})
