"""The demo's two WebSocket consumers: chat rooms, and per-browser events.

* ``/ws/chat/{room}``: the path parameter names the group ``chat.{room}``; every text a
  member sends is broadcast to the room with ``group_send``.
* ``/ws/events``: every browser joins the ``notifications`` group (fed by ``POST /notify``)
  and learns its own channel name, to which its background jobs report progress.
"""

from __future__ import annotations

import re
from typing import Any, Final, cast
from urllib.parse import parse_qs

from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import DenyConnection
from fast_channels.types import Message

__all__ = ["NOTIFICATIONS_GROUP", "ChatConsumer", "EventsConsumer", "valid_room"]

NOTIFICATIONS_GROUP: Final = "notifications"
MAX_TEXT: Final = 500
MAX_NAME: Final = 32
_ROOM: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def valid_room(room: str) -> bool:
    """Whether ``room`` is a room name: lowercase letters, digits, '-' and '_', at most 40."""
    return _ROOM.fullmatch(room) is not None


def _clean(value: object, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """A member of one chat room; the name to announce comes in ``?name=``."""

    room = ""
    name = ""

    @property
    def room_group(self) -> str:
        """The layer group of this consumer's room."""
        return f"chat.{self.room}"

    async def connect(self) -> None:
        """Join the room named by the path, or reject the handshake for a bad name."""
        room = str(self.scope["path_params"]["room"])
        if not valid_room(room):
            raise DenyConnection(f"{room!r} is not a room name")
        query = parse_qs(bytes(self.scope.get("query_string", b"")).decode("latin-1"))
        self.room = room
        self.name = _clean(query.get("name", [""])[0], MAX_NAME) or "someone"
        await self.join_group(self.room_group)  # left by itself when the socket closes
        await self.accept()
        await self.send_json({"kind": "welcome", "room": room, "you": self.channel_name})
        await self._announce(f"{self.name} joined #{room}")

    async def disconnect(self, code: int) -> None:
        """Tell the room (if the handshake got that far) that this member left."""
        if self.room:
            await self._announce(f"{self.name} left #{self.room}")

    async def receive_json(self, content: Any) -> None:
        """Broadcast ``{"author": ..., "text": ...}`` to the room; ignore anything else."""
        if not isinstance(content, dict):
            return
        fields = cast("dict[str, object]", content)
        text = _clean(fields.get("text"), MAX_TEXT)
        author = _clean(fields.get("author"), MAX_NAME) or self.name
        if text:
            message = {"type": "chat.message", "author": author, "text": text}
            await self.channel_layer.group_send(
                self.room_group, {**message, "sender": self.channel_name}
            )

    async def chat_message(self, event: Message) -> None:
        """A room message: pass it to the browser."""
        author, text, sender = event["author"], event["text"], event["sender"]
        await self.send_json({"kind": "chat", "author": author, "text": text, "sender": sender})

    async def chat_presence(self, event: Message) -> None:
        """Someone joined or left the room."""
        await self.send_json({"kind": "presence", "text": event["text"]})

    async def _announce(self, text: str) -> None:
        message = {"type": "chat.presence", "text": text}
        await self.channel_layer.group_send(self.room_group, message)


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """One browser's inbox: system notifications, and progress of its own jobs."""

    groups = [NOTIFICATIONS_GROUP]

    async def connect(self) -> None:
        """Accept, and tell the browser the channel name its jobs should report to."""
        await self.accept()
        await self.send_json({"kind": "hello", "channel": self.channel_name})

    async def notify_message(self, event: Message) -> None:
        """A notification from ``POST /notify``."""
        await self.send_json({"kind": "notification", "text": event["text"]})

    async def job_progress(self, event: Message) -> None:
        """Progress of a job this browser started."""
        await self.send_json(
            {
                "kind": "job",
                "job": event["job"],
                "percent": event["percent"],
                "worker": event["worker"],
            }
        )
