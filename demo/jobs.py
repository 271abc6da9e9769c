"""The demo's background job, and the loop that serves jobs sent to ``demo-jobs``.

``POST /jobs`` sends ``{"type": "job.run", "job": ..., "reply_channel": ...}`` to the
``demo-jobs`` channel. Whoever receives on that channel (an asyncio task in the web
process with the in-memory layer, ``python -m demo.worker`` with Redis) runs the job and
sends ``job.progress`` messages, 0 to 100 %, to the requesting browser's channel.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from fast_channels.layers import ChannelLayer
from fast_channels.types import Message

__all__ = ["JOBS_CHANNEL", "job_request", "run_job", "serve_jobs"]

JOBS_CHANNEL: Final = "demo-jobs"
STEPS: Final = 20
STEP_SECONDS: Final = 0.15

logger = logging.getLogger("demo.jobs")


def job_request(job: str, reply_channel: str) -> Message:
    """The message that asks a worker to run ``job`` and report to ``reply_channel``."""
    return {"type": "job.run", "job": job, "reply_channel": reply_channel}


async def run_job(layer: ChannelLayer, request: Message, *, worker: str) -> None:
    """Do the (pretend) work in ``STEPS`` steps, sending progress after each one."""
    job, reply_channel = request.get("job"), request.get("reply_channel")
    if not isinstance(job, str) or not isinstance(reply_channel, str):
        logger.warning("ignored a malformed job request: %r", request)
        return
    for step in range(STEPS + 1):
        if step:
            await asyncio.sleep(STEP_SECONDS)
        percent = step * 100 // STEPS
        progress = {"type": "job.progress", "job": job, "percent": percent, "worker": worker}
        await layer.send(reply_channel, progress)


async def _run_logged(layer: ChannelLayer, request: Message, worker: str) -> None:
    try:
        await run_job(layer, request, worker=worker)
    except Exception:
        logger.exception("job %r failed", request.get("job"))


async def serve_jobs(layer: ChannelLayer, *, worker: str) -> None:
    """Run every job sent to ``demo-jobs``, several at once, until cancelled.

    On cancellation it stops receiving (no message is lost: a cancelled ``receive()``
    keeps it queued) and lets the jobs in hand finish before returning.
    """
    running: set[asyncio.Task[None]] = set()
    try:
        while True:
            request = await layer.receive(JOBS_CHANNEL)
            task = asyncio.create_task(_run_logged(layer, request, worker))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:
        if running:
            await asyncio.gather(*running, return_exceptions=True)
