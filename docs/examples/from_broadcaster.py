"""What a ``broadcaster`` app becomes: a room as a consumer, ``publish`` as ``group_send``,
and ``subscribe`` outside a consumer as an async iterator over a channel of the layer.

broadcaster                                     fast-channels
``Broadcast(url)``, ``connect()``/``disconnect()``  a layer registered at start-up, ``aclose()``
``broadcast.subscribe(channel="room")``          ``groups = ["room"]`` / ``subscribe("room")``
``broadcast.publish(channel="room", message=s)`` ``layer.group_send("room", {"type": ..., ...})``
``event.message`` (a str)                        the message dict (any msgpack-able values)
"""

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.layers import (
    InMemoryChannelLayer,
    get_channel_layer,
    register_channel_layer,
    unregister_channel_layer,
)
from fast_channels.types import Message


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncGenerator[None]:
    """broadcaster's ``on_startup=[broadcast.connect]``, ``on_shutdown=[...disconnect]``."""
    # Across processes: RedisPubSubChannelLayer(hosts=["redis://localhost:6379"]), the
    # same delivery as broadcaster's Redis backend (PUBLISH/SUBSCRIBE, nothing stored).
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    try:
        yield
    finally:
        unregister_channel_layer("default")
        await layer.aclose()


class ChatRoom(AsyncWebsocketConsumer):
    """The endpoint that looped over ``broadcast.subscribe(channel="chatroom")``."""

    groups = ["chatroom"]

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await publish("chatroom", text_data or "")

    async def chat_message(self, message: Message) -> None:
        await self.send(text_data=message["text"])


async def publish(group: str, text: str) -> None:
    """``await broadcast.publish(channel=group, message=text)``."""
    await get_channel_layer().group_send(group, {"type": "chat.message", "text": text})


@asynccontextmanager
async def subscribe(group: str) -> AsyncGenerator[AsyncIterator[Message]]:
    """``async with broadcast.subscribe(channel=group) as subscriber``, for code that is
    not a consumer (a background task, an SSE generator): one channel of the layer, in
    ``group`` while the block runs."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)

    async def messages() -> AsyncIterator[Message]:
        while True:
            yield await layer.receive(channel)

    try:
        yield messages()
    finally:
        await layer.group_discard(group, channel)


app = Starlette(routes=[WebSocketRoute("/chat", ChatRoom.as_asgi())], lifespan=lifespan)
