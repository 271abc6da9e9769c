"""A chat room that shows who is online and catches a returning client up on what it missed.

The client connects to ``/ws/room/<name>?user=<name>&since=<position>`` (``since``: the
``position`` of the last message it showed, if it has one). It gets the messages it missed,
then ``{"type": "ready", ...}`` with who is online, then everything live; or
``{"type": "reload"}`` when the room's history no longer reaches back to its position.
"""

from typing import Any, cast
from urllib.parse import parse_qs

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import InvalidPositionError
from fast_channels.layers import (
    GroupOptions,
    InMemoryChannelLayer,
    Position,
    Unrecoverable,
    has_layers,
    register_channel_layer,
)
from fast_channels.status import CloseCode
from fast_channels.types import Message


def setup_channel_layers() -> None:
    if has_layers():
        return
    rooms = {"room.*": GroupOptions(history_size=500, presence_events=True)}
    register_channel_layer("default", InMemoryChannelLayer(group_options=rooms))


class RoomConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.room = "room." + self.scope["path"].rstrip("/").rsplit("/", 1)[-1]
        query = parse_qs(self.scope["query_string"].decode())
        self.user = query.get("user", ["anonymous"])[0]
        await self.accept()
        try:
            since = Position.parse(query["since"][0]) if "since" in query else None
        except InvalidPositionError:
            await self.close(CloseCode.INVALID_PAYLOAD)
            return
        await self.join_group(self.room, info={"user": self.user})
        # Missed messages go through chat_message now, before any live one.
        result = await self.recover(self.room, since)
        if isinstance(result, Unrecoverable):
            await self.send_json({"type": "reload", "position": str(result.position)})
        online = await self.present(self.room)
        await self.send_json(
            {"type": "ready", "position": str(result.position), "online": online.users()}
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        fields = cast(dict[str, object], content) if isinstance(content, dict) else {}
        text = str(fields.get("text", ""))
        message = {"type": "chat.message", "user": self.user, "text": text}
        await self.channel_layer.group_send(self.room, message)

    async def chat_message(self, message: Message) -> None:
        position = str(Position.of(message))  # the client keeps the last one it showed
        reply = {"type": "message", "user": message["user"], "text": message["text"]}
        await self.send_json({**reply, "position": position})

    async def presence_joined(self, message: Message) -> None:
        await self.send_json({"type": "joined", "user": message["info"]["user"]})

    async def presence_left(self, message: Message) -> None:
        await self.send_json({"type": "left", "user": message["info"]["user"]})
