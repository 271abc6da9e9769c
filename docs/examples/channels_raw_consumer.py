"""A Django Channels ``AsyncConsumer`` that speaks the WebSocket protocol itself, ported:
only the import changed. ``self.send(event)`` sends raw ASGI events, as in Channels."""

# Django Channels: from channels.consumer import AsyncConsumer
from fast_channels.consumer import AsyncConsumer
from fast_channels.types import Message


class EchoConsumer(AsyncConsumer):
    channel_layer_alias = None  # no layer needed (Channels: it would be None anyway)

    async def websocket_connect(self, event: Message) -> None:
        await self.send({"type": "websocket.accept"})

    async def websocket_receive(self, event: Message) -> None:
        if event.get("text") == "bye":
            await self.send({"type": "websocket.close", "code": 1000})
        else:
            await self.send({"type": "websocket.send", "text": event.get("text")})

    async def websocket_disconnect(self, event: Message) -> None:
        pass  # the consumer ends once this returns (raising StopConsumer works too)
