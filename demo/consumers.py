"""The demo's two WebSocket consumers: chat rooms, and per-browser events.

* ``/ws/chat/{room}``: the path parameter names the group ``chat.{room}``; every text a
  member sends is broadcast to the room with ``group_send``.
* ``/ws/events``: every browser joins the ``notifications`` group (fed by ``POST /notify``)
  and learns its own channel name, which it gives ``POST /jobs``. The job's group then
  holds that channel (and the consumer, told by a ``job.follow`` message, leaves it when
  the socket closes or the job is done). After a reconnect the page sends
  ``{"kind": "follow", "jobs": [id, ...]}`` for its unfinished jobs, and the new
  connection joins their groups again, then sends each job's latest saved progress (a
  job that ended while the page had no connection shows done), or says it is lost when
  nothing is kept of it (the in-memory store went with a restarted server). Any other
  client message closes that one socket with 1007 (invalid payload); a page may follow at
  most ``MAX_FOLLOWED`` jobs at once.

When the channel layer says messages may have been lost (``layer.reconnected``: Redis
restarted or lost its data), the events page gets each followed job's latest saved progress
again, and a chat room's page a line saying messages may be missing.

Job events sent to the page carry the job's ``state`` (queued, running, done, lost, with a
``reason`` when lost) and ``age``, the seconds since the job reported it; ``hello`` tells
the page ``stale_after``, the seconds without news after which it says a running job has
stalled (its worker was killed, or is stuck).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Final, cast
from urllib.parse import parse_qs

from demo.jobs import is_job_id, job_group, lost_report, stale_seconds, step_seconds
from demo.progress import ProgressStore
from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import DenyConnection
from fast_channels.status import CloseCode
from fast_channels.types import Message

__all__ = [
    "MAX_FOLLOWED",
    "MAY_HAVE_MISSED",
    "NOTIFICATIONS_GROUP",
    "ChatConsumer",
    "EventsConsumer",
    "followed_jobs",
    "valid_room",
]

NOTIFICATIONS_GROUP: Final = "notifications"
MAX_TEXT: Final = 500
MAX_NAME: Final = 32
MAX_FOLLOWED: Final = 100
_ROOM: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
MAY_HAVE_MISSED: Final = "the server lost touch with the room for a moment: messages may be missing"

logger = logging.getLogger("demo.consumers")


def valid_room(room: str) -> bool:
    """Whether ``room`` is a room name: lowercase letters, digits, '-' and '_', at most 40."""
    return _ROOM.fullmatch(room) is not None


def followed_jobs(content: object) -> list[str] | None:
    """The job ids of ``{"kind": "follow", "jobs": [...]}``, or None if it is not that."""
    if not isinstance(content, dict):
        return None
    fields = cast("dict[str, object]", content)
    jobs = fields.get("jobs")
    if set(fields) != {"kind", "jobs"} or fields["kind"] != "follow" or not isinstance(jobs, list):
        return None
    ids = cast("list[object]", jobs)
    if len(ids) > MAX_FOLLOWED or not all(is_job_id(job) for job in ids):
        return None
    return [str(job) for job in ids]


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

    async def layer_reconnected(self, message: Message) -> None:
        """Room messages may have been lost meanwhile (Redis restarted or lost its data):
        say so in the room's log."""
        await self.send_json({"kind": "presence", "text": MAY_HAVE_MISSED})

    async def _announce(self, text: str) -> None:
        message = {"type": "chat.presence", "text": text}
        await self.channel_layer.group_send(self.room_group, message)


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """One browser's inbox: system notifications, and progress of the jobs it follows."""

    groups = [NOTIFICATIONS_GROUP]
    progress: ProgressStore | None = None
    """Where jobs save their latest progress (None: a rejoining page hears only later steps)."""

    def __init__(self, **initkwargs: object) -> None:
        super().__init__(**initkwargs)
        self.following: set[str] = set()

    async def connect(self) -> None:
        """Accept, and tell the browser the channel name to start its jobs with."""
        await self.accept()
        stale_after = stale_seconds(step_seconds())
        await self.send_json(
            {"kind": "hello", "channel": self.channel_name, "stale_after": stale_after}
        )

    async def receive_json(self, content: Any) -> None:
        """``{"kind": "follow", "jobs": [...]}``: join those jobs' groups and send their
        latest saved progress; anything else closes the socket (1007)."""
        jobs = followed_jobs(content)
        if jobs is None or len(self.following | set(jobs)) > MAX_FOLLOWED:
            reason = f"expected a follow message of at most {MAX_FOLLOWED} jobs in all"
            logger.info("closing %s (%s), got %.200r", self.channel_name, reason, content)
            await self.close(CloseCode.INVALID_PAYLOAD, reason)
            return
        for job in jobs:
            await self._follow(job)
            await self._send_latest(job)

    async def layer_reconnected(self, message: Message) -> None:
        """The layer may have lost progress messages meanwhile (Redis restarted or lost its
        data): send each followed job's latest saved progress again."""
        for job in sorted(self.following):
            await self._send_latest(job)

    async def notify_message(self, event: Message) -> None:
        """A notification from ``POST /notify``."""
        await self.send_json({"kind": "notification", "text": event["text"]})

    async def job_follow(self, event: Message) -> None:
        """``POST /jobs`` added this channel to a new job's group: leave it when we go."""
        await self._follow(str(event["job"]))

    async def job_progress(self, event: Message) -> None:
        """Progress of a job this browser follows; done or lost ends the following."""
        job, done = str(event["job"]), bool(event["done"])
        state = str(event.get("state", "done" if done else "running"))
        update: dict[str, object] = {
            "kind": "job",
            "job": job,
            "percent": event["percent"],
            "worker": event["worker"],
            "done": done,
            "state": state,
            "age": round(max(0.0, time.time() - float(event.get("at", time.time()))), 1),
        }
        if state == "lost":
            update["reason"] = str(event.get("reason", ""))
        await self.send_json(update)
        if done or state == "lost":
            self.following.discard(job)
            await self.leave_group(job_group(job))

    async def _send_latest(self, job: str) -> None:
        """Where ``job`` got to, as saved (done or lost: stop following it)."""
        if self.progress is None:
            return
        latest = await self.progress.latest(job)
        if latest is None:
            reason = "the server has no record of this job: it was lost in a restart"
            latest = lost_report(job, 0, worker="", reason=reason)
        await self.job_progress(latest)

    async def _follow(self, job: str) -> None:
        self.following.add(job)
        await self.join_group(job_group(job))
