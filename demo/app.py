"""The demo's FastAPI application: the page, two HTTP endpoints and two WebSocket routes.

The channel layer is registered as ``"default"`` at start-up and closed at shutdown
(the app's lifespan). With the in-memory layer, jobs run in this process as an asyncio
task; with Redis they run in ``python -m demo.worker``. Either way they save their latest
progress where the events consumer finds it (:mod:`demo.progress`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncGenerator
from pathlib import Path

from fastapi import FastAPI, HTTPException, status
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from demo.consumers import NOTIFICATIONS_GROUP, ChatConsumer, EventsConsumer
from demo.jobs import (
    JOBS_CHANNEL,
    job_group,
    job_request,
    queued_report,
    serve_jobs,
    step_seconds,
)
from demo.layers import (
    RedisUnreachableError,
    check_reachable,
    layer_name,
    make_layer,
    redis_url,
)
from demo.progress import ProgressStore, make_progress
from demo.rooms import RoomConsumer
from fast_channels.exceptions import ChannelFull, InvalidChannelNameError
from fast_channels.layers import (
    BaseChannelLayer,
    get_channel_layer,
    register_channel_layer,
    unregister_channel_layer,
)

__all__ = ["app", "create_app"]

STATIC = Path(__file__).parent / "static"


class Notification(BaseModel):
    """Body of ``POST /notify``."""

    text: str = Field(min_length=1, max_length=280)


class JobRequest(BaseModel):
    """Body of ``POST /jobs``: the channel of the browser that wants the progress."""

    channel: str = Field(min_length=1, max_length=100)


class Info(BaseModel):
    """What the page shows about the server."""

    layer: str
    jobs: str
    pid: int


@contextlib.asynccontextmanager
async def _lifespan(progress: ProgressStore) -> AsyncGenerator[None]:
    url = redis_url()
    step = step_seconds()
    layer = make_layer(url)
    try:
        await check_reachable(layer, url)
    except RedisUnreachableError:
        await layer.aclose()
        raise
    register_channel_layer("default", layer)
    in_process = None
    stop = asyncio.Event()
    if url is None:
        # The in-memory layer and store end with this process: jobs in hand at shutdown are
        # cancelled at once (grace 0); a page that comes back hears they are lost.
        worker = f"web pid {os.getpid()}"
        in_process = asyncio.create_task(
            serve_jobs(layer, progress=progress, worker=worker, stop=stop, step=step, grace=0)
        )
    try:
        yield
    finally:
        if in_process is not None:
            stop.set()
            await in_process
        unregister_channel_layer("default")
        await layer.aclose()
        await progress.aclose()


def create_app(*, progress: ProgressStore | None = None) -> FastAPI:
    """A new demo application (the layer is chosen from ``REDIS_URL`` at start-up).

    ``progress``: where jobs keep their latest progress (default: per ``REDIS_URL``).
    """
    store = make_progress(redis_url()) if progress is None else progress
    app = FastAPI(title="fast-channels demo", lifespan=lambda _: _lifespan(store))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.router.add_websocket_route("/ws/chat/{room}", ChatConsumer.as_asgi())
    app.router.add_websocket_route("/ws/events", EventsConsumer.as_asgi(progress=store))
    app.router.add_websocket_route("/ws/rooms/{room}", RoomConsumer.as_asgi())

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/rooms", include_in_schema=False)
    async def rooms() -> FileResponse:
        return FileResponse(STATIC / "rooms.html")  # presence and history: demo/rooms.py

    @app.get("/info")
    async def info() -> Info:
        """Which layer this server uses, and where jobs run."""
        url = redis_url()
        jobs = "in-process task" if url is None else "worker process"
        return Info(layer=layer_name(url), jobs=jobs, pid=os.getpid())

    @app.post("/notify", status_code=status.HTTP_202_ACCEPTED)
    async def notify(notification: Notification) -> dict[str, str]:
        """Push a notification to every connected browser (``group_send``)."""
        message = {"type": "notify.message", "text": notification.text}
        await get_channel_layer().group_send(NOTIFICATIONS_GROUP, message)
        return {"group": NOTIFICATIONS_GROUP}

    @app.post("/jobs", status_code=status.HTTP_202_ACCEPTED)
    async def start_job(request: JobRequest) -> dict[str, str]:
        """Queue a background job whose group ``job-<id>`` starts with ``request.channel``.

        The channel joins the group before the job is queued, so it hears every step; the
        ``job.follow`` message tells its consumer, which leaves the group when it closes.
        The job is saved as queued first: a page that reconnects before a worker takes it
        finds it known, not lost.
        """
        try:
            channel = BaseChannelLayer.require_valid_channel_name(request.channel)
        except InvalidChannelNameError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
        job = secrets.token_hex(4)
        layer = get_channel_layer()
        await store.save(queued_report(job))
        try:
            await layer.group_add(job_group(job), channel)
            await layer.send(channel, {"type": "job.follow", "job": job})
            await layer.send(JOBS_CHANNEL, job_request(job))
        except ChannelFull as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        return {"job": job}

    return app


app = create_app()
