"""The demo's rooms with presence and history: who is online, and catching up after a drop.

``/ws/rooms/{room}?name=<name>&since=<position>`` joins the group ``room.{room}`` with the
name as presence info, then recovers what the page missed since ``since`` (the position of
the last message it showed, if it has one). The page receives, in this order:

1. every message it missed, oldest first (``{"kind": "message", ..., "position"}``);
2. ``{"kind": "lost"}`` if the room's history no longer reaches back to ``since`` (its
   epoch changed, or more was sent than it keeps): the page says so;
3. ``{"kind": "ready", "position", "members": {channel: name}}``: who is online now;
4. then everything live: messages, and ``{"kind": "joined" | "left", "channel", "name"}``.

A ``since`` that is not a position closes the socket with 1007. Rooms keep their last
``DEMO_ROOM_HISTORY`` messages (default 200) for an hour.
"""

from __future__ import annotations

import os
from typing import Any, Final, cast
from urllib.parse import parse_qs

from demo.consumers import MAX_NAME, MAX_TEXT, valid_room
from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import DenyConnection, InvalidPositionError
from fast_channels.layers import GroupOptions, Position, Unrecoverable
from fast_channels.status import CloseCode
from fast_channels.types import Message

__all__ = ["ROOM_HISTORY_ENV", "RoomConsumer", "room_options"]

ROOM_HISTORY_ENV: Final = "DEMO_ROOM_HISTORY"


def room_options() -> dict[str, GroupOptions]:
    """The layer's ``group_options``: rooms keep history and announce who comes and goes."""
    size = int(os.environ.get(ROOM_HISTORY_ENV) or 200)
    return {"room.*": GroupOptions(history_size=size, history_ttl=3600, presence_events=True)}


def _clean(value: object, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _name(info: object) -> str:
    return str(cast("dict[str, object]", info).get("name", "")) if isinstance(info, dict) else ""


class RoomConsumer(AsyncJsonWebsocketConsumer):
    """A member of one room with presence and history (see the module)."""

    group = ""
    name = ""

    async def connect(self) -> None:
        """Join the room, catch the page up, tell it who is online."""
        room = str(self.scope["path_params"]["room"])
        if not valid_room(room):
            raise DenyConnection(f"{room!r} is not a room name")
        query = parse_qs(bytes(self.scope.get("query_string", b"")).decode("latin-1"))
        self.group = f"room.{room}"
        self.name = _clean(query.get("name", [""])[0], MAX_NAME) or "someone"
        await self.accept()
        try:
            since = Position.parse(query["since"][0]) if "since" in query else None
        except InvalidPositionError:
            await self.close(CloseCode.INVALID_PAYLOAD, "since is not a position")
            return
        await self.join_group(self.group, info={"name": self.name})
        result = await self.recover(self.group, since)  # missed messages: chat_message, now
        if isinstance(result, Unrecoverable):
            await self.send_json({"kind": "lost", "reason": result.reason})
        present = await self.present(self.group)
        members = {channel: _name(info) for channel, info in present.items()}
        await self.send_json(
            {"kind": "ready", "position": str(result.position), "members": members}
        )

    async def receive_json(self, content: Any) -> None:
        """``{"text": ...}``: say it in the room; anything else is ignored."""
        if not isinstance(content, dict) or not self.group:
            return
        text = _clean(cast("dict[str, object]", content).get("text"), MAX_TEXT)
        if text:
            message = {"type": "chat.message", "author": self.name, "text": text}
            await self.channel_layer.group_send(self.group, message)

    async def chat_message(self, event: Message) -> None:
        """A room message, missed or live, with its position in the room's history."""
        position = str(Position.of(event))
        await self.send_json(
            {
                "kind": "message",
                "author": event["author"],
                "text": event["text"],
                "position": position,
            }
        )

    async def presence_joined(self, message: Message) -> None:
        """Someone came online in the room."""
        await self._presence("joined", message)

    async def presence_left(self, message: Message) -> None:
        """Someone went offline (left, or their server died and the lease ran out)."""
        await self._presence("left", message)

    async def _presence(self, kind: str, event: Message) -> None:
        channel, name = str(event["channel"]), _name(event["info"])
        await self.send_json({"kind": kind, "channel": channel, "name": name})
