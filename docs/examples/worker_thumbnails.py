"""A background worker: make thumbnails for jobs sent to the named channel ``thumbnails``.

Run one or several of these next to the web app (``http_endpoint_fastapi.py``)::

    REDIS_URL=redis://localhost:6379 fast-channels worker thumbnails \\
        --app docs.examples.worker_thumbnails:ThumbnailConsumer \\
        --setup docs.examples.worker_thumbnails:setup_layers

Each job is handled by exactly one worker; its progress goes to the group ``progress``,
which every WebSocket client of the web app has joined.
"""

from __future__ import annotations

# --8<-- [start:consumer]
import asyncio
import os

from fast_channels.consumer import AsyncConsumer
from fast_channels.types import Message

PROGRESS = "progress"


class ThumbnailConsumer(AsyncConsumer):
    """``{"type": "thumbnail.create", "job": 1, "image": "cat.png"}`` → ``thumbnail_create``."""

    async def thumbnail_create(self, message: Message) -> None:
        job, image = message["job"], message["image"]
        for percent in (0, 50, 100):
            if percent:
                await asyncio.sleep(0)  # resize the image here
            await self.channel_layer.group_send(
                PROGRESS,
                {
                    "type": "job.progress",
                    "job": job,
                    "percent": percent,
                    "thumbnail": f"thumbs/{image}" if percent == 100 else None,
                    "worker": os.getpid(),
                },
            )


# --8<-- [end:consumer]


def setup_layers() -> None:
    """Register the Redis queue layer the web app uses (same URL, same prefix)."""
    from fast_channels.layers import has_layers, register_channel_layer
    from fast_channels.layers.redis import RedisChannelLayer

    if has_layers():
        return
    url = os.environ.get("REDIS_URL", "redis://localhost:6379")
    register_channel_layer("default", RedisChannelLayer(hosts=[url], prefix="example"))
