"""Send to WebSocket clients from FastAPI routes; the layer lives as long as the app.

* The lifespan creates the layer at start-up, registers it, and closes it at shutdown
  (``aclose()`` releases its Redis connections and reader tasks).
* ``POST /notify`` sends one message to the group ``notifications``: every WebSocket
  client of ``/ws/updates`` in every server process receives it.
* ``POST /thumbnails`` hands a job to the worker processes on the named channel
  ``thumbnails`` (``fast-channels worker thumbnails --app ...``, see
  ``worker_thumbnails.py``); their progress reaches the clients through the group
  ``progress``.
* ``POST /notify-sync`` is a plain ``def`` route: FastAPI runs it in a thread pool, where
  the blocking ``group_send_sync`` is the right call.

Run it: ``REDIS_URL=redis://localhost:6379 uvicorn docs.examples.http_endpoint_fastapi:app``
(without ``REDIS_URL`` it uses the in-memory layer, which reaches no worker process).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.layers import (
    BaseChannelLayer,
    InMemoryChannelLayer,
    get_channel_layer,
    register_channel_layer,
    unregister_channel_layer,
)
from fast_channels.types import Message

NOTIFICATIONS = "notifications"
PROGRESS = "progress"
THUMBNAILS = "thumbnails"


def make_layer() -> BaseChannelLayer:
    """The Redis queue layer at ``REDIS_URL``, else an in-memory layer (one process)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return InMemoryChannelLayer()
    from fast_channels.layers.redis import RedisChannelLayer

    return RedisChannelLayer(hosts=[url], prefix="example")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
    layer = make_layer()
    register_channel_layer("default", layer)
    try:
        yield
    finally:
        unregister_channel_layer("default")
        await layer.aclose()


def channel_layer() -> BaseChannelLayer:
    """The app's layer, for routes (a dependency, so tests can override it)."""
    layer = get_channel_layer("default")
    if not isinstance(layer, BaseChannelLayer):
        raise TypeError("the default channel layer is not a BaseChannelLayer")
    return layer


Layer = Annotated[BaseChannelLayer, Depends(channel_layer)]


class UpdatesSocket(AsyncJsonWebsocketConsumer):
    """Forwards notifications and job progress to the browser as JSON."""

    groups = [NOTIFICATIONS, PROGRESS]

    async def notification(self, event: Message) -> None:
        await self.send_json(event)

    async def job_progress(self, event: Message) -> None:
        await self.send_json(event)


class Notice(BaseModel):
    text: str


class Thumbnail(BaseModel):
    job: int
    image: str


app = FastAPI(lifespan=lifespan)
app.router.add_websocket_route("/ws/updates", UpdatesSocket.as_asgi())


@app.post("/notify")
async def notify(notice: Notice, layer: Layer) -> dict[str, str]:
    await layer.group_send(NOTIFICATIONS, {"type": "notification", "text": notice.text})
    return {"status": "sent"}


@app.post("/notify-sync")
def notify_sync(notice: Notice, layer: Layer) -> dict[str, str]:
    layer.group_send_sync(NOTIFICATIONS, {"type": "notification", "text": notice.text})
    return {"status": "sent"}


@app.post("/thumbnails", status_code=202)
async def create_thumbnail(request: Thumbnail, layer: Layer) -> dict[str, int]:
    message = {"type": "thumbnail.create", "job": request.job, "image": request.image}
    await layer.send(THUMBNAILS, message)
    return {"job": request.job}
