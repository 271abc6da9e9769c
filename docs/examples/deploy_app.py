"""A production-shaped app: the layer from the environment, health endpoints for probes.

* ``REDIS_URL`` (one Redis) or ``REDIS_SENTINELS`` (``host:port,host:port``) with
  ``REDIS_SERVICE_NAME`` (Sentinel) choose the Redis queue layer; with neither set it uses
  the in-memory layer (one process, development only).
* ``GET /healthz`` (liveness): the process answers. ``GET /readyz`` (readiness): a message
  went through the layer and back within 2 s, so Redis is reachable; 503 otherwise.
* ``/ws/updates`` forwards job progress; ``POST /thumbnails`` queues a job for the worker
  processes (``worker_thumbnails.py``, same Redis, same prefix).

Run it as ``deploy/docker-compose.yml`` does, with uvicorn or gunicorn (see the deployment
guide); ``tests/docs/test_deploy.py`` runs those very command lines.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.layers import (
    BaseChannelLayer,
    InMemoryChannelLayer,
    get_channel_layer,
    has_layers,
    register_channel_layer,
    unregister_channel_layer,
)
from fast_channels.types import Message

PREFIX = "example"  # the workers use the same prefix


# --8<-- [start:layer]
def layer_from_environment() -> BaseChannelLayer:
    """One Redis (REDIS_URL), Redis Sentinel (REDIS_SENTINELS), else in-memory."""
    from fast_channels.layers.redis import RedisChannelLayer

    if sentinels := os.environ.get("REDIS_SENTINELS"):
        return RedisChannelLayer(
            sentinels=_addresses(sentinels),
            service_name=os.environ.get("REDIS_SERVICE_NAME", "mymaster"),
            prefix=PREFIX,
        )
    if url := os.environ.get("REDIS_URL"):
        return RedisChannelLayer(hosts=[url], prefix=PREFIX)
    return InMemoryChannelLayer()


def _addresses(value: str) -> list[tuple[str, int]]:
    """``"10.0.0.5:26379,10.0.0.6:26379"`` -> ``[("10.0.0.5", 26379), ("10.0.0.6", 26379)]``."""
    addresses: list[tuple[str, int]] = []
    for item in value.split(","):
        host, _, port = item.strip().rpartition(":")
        addresses.append((host, int(port)))
    return addresses


# --8<-- [end:layer]


def register_layer() -> None:
    """For worker processes (``fast-channels worker --setup``): the web app's layer."""
    if not has_layers():
        register_channel_layer("default", layer_from_environment())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
    layer = layer_from_environment()
    register_channel_layer("default", layer)
    try:
        yield
    finally:
        unregister_channel_layer("default")
        await layer.aclose()


class UpdatesSocket(AsyncJsonWebsocketConsumer):
    groups = ["progress"]

    async def job_progress(self, event: Message) -> None:
        await self.send_json(event)


class Thumbnail(BaseModel):
    job: int
    image: str


app = FastAPI(lifespan=lifespan)
app.router.add_websocket_route("/ws/updates", UpdatesSocket.as_asgi())


@app.post("/thumbnails", status_code=202)
async def create_thumbnail(request: Thumbnail) -> dict[str, int]:
    job = {"type": "thumbnail.create", "job": request.job, "image": request.image}
    await get_channel_layer().send("thumbnails", job)
    return {"job": request.job}


# --8<-- [start:health]
@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the event loop of this process answers."""
    return {"status": "alive"}


@app.get("/readyz")
async def readyz() -> JSONResponse:
    """Readiness: a message goes through the layer (Redis) and back to this process."""
    layer = get_channel_layer()
    try:
        async with asyncio.timeout(2):
            channel = await layer.new_channel("health.")  # a name: nothing is created
            await layer.send(channel, {"type": "health.ping"})
            await layer.receive(channel)
    except Exception as exc:  # unreachable Redis, full channel, timeout: not ready
        return JSONResponse({"status": "unready", "error": repr(exc)}, status_code=503)
    return JSONResponse({"status": "ready"})


# --8<-- [end:health]
