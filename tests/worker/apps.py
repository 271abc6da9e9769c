"""Consumers and setup functions that the worker tests run, in-process and as real processes.

``ThumbnailConsumer`` reports each job's progress to the group ``"progress"``:
``started`` (with the worker's pid and scope), then ``done``. A job with ``"hold": True``
waits for a message on the named channel ``release.<job>`` between the two, so a test
decides when it finishes; ``"fail": True`` raises instead of finishing.
"""

from __future__ import annotations

import os
import signal

from fast_channels.consumer import AsyncConsumer, AsyncWebsocketConsumer
from fast_channels.layers import (
    InMemoryChannelLayer,
    get_channel_layer,
    has_layers,
    register_channel_layer,
)
from fast_channels.types import Message

PROGRESS_GROUP = "progress"


def job(number: int, *, hold: bool = False, fail: bool = False) -> Message:
    """A ``thumbnail.create`` request."""
    return {"type": "thumbnail.create", "job": number, "hold": hold, "fail": fail}


class ThumbnailConsumer(AsyncConsumer):
    """Handles ``thumbnail.create`` jobs sent to a named channel."""

    async def thumbnail_create(self, message: Message) -> None:
        number = message["job"]
        layer = self.channel_layer
        started = {
            "type": "job.progress",
            "job": number,
            "state": "started",
            "pid": os.getpid(),
            "scope": dict(self.scope),
        }
        await layer.group_send(PROGRESS_GROUP, started)
        if message.get("hold"):
            await layer.receive(f"release.{number}")
        if message.get("fail"):
            raise RuntimeError(f"job {number} failed on purpose")
        done = {"type": "job.progress", "job": number, "state": "done", "pid": os.getpid()}
        await layer.group_send(PROGRESS_GROUP, done)

    async def worker_selfstop(self, message: Message) -> None:
        """Send SIGTERM to this process, as an orchestrator would."""
        os.kill(os.getpid(), signal.SIGTERM)


class MissingLayerConsumer(AsyncConsumer):
    """Joins a group on a layer alias that nobody registers: it cannot start."""

    channel_layer_alias = "missing"
    groups = ["jobs"]


class ChatSocket(AsyncWebsocketConsumer):
    """A WebSocket consumer: not something a worker can run."""


async def memory_setup() -> None:
    """Register an in-memory layer (which ``fast-channels worker`` refuses)."""
    if not has_layers():
        register_channel_layer("default", InMemoryChannelLayer())


async def redis_selfstop_setup() -> None:
    """Register the Redis queue layer at ``REDIS_URL`` (prefix ``cli-run``, emptied first)
    and queue two jobs and a self-stop for ``thumbnails``."""
    from fast_channels.layers.redis import RedisChannelLayer

    if not has_layers():
        url = os.environ["REDIS_URL"]
        register_channel_layer("default", RedisChannelLayer(hosts=[url], prefix="cli-run"))
    layer = get_channel_layer()
    await layer.flush()
    await layer.send("thumbnails", job(1))
    await layer.send("thumbnails", job(2, fail=True))
    await layer.send("thumbnails", {"type": "worker.selfstop"})


def setup_nothing() -> None:
    """Registers no layer."""


def redis_setup() -> None:
    """Register the Redis queue layer at ``REDIS_URL`` as the example web app does."""
    from fast_channels.layers.redis import RedisChannelLayer

    if not has_layers():
        url = os.environ["REDIS_URL"]
        register_channel_layer("default", RedisChannelLayer(hosts=[url], prefix="example"))
