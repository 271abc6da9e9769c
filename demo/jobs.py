"""The demo's background job, and the loop that serves jobs sent to ``demo-jobs``.

``POST /jobs`` adds the requesting browser's channel to the job's group ``job-<id>`` and
sends ``{"type": "job.run", "job": ...}`` to the ``demo-jobs`` channel. Whoever receives on
that channel (an asyncio task in the web process with the in-memory layer,
``python -m demo.worker`` with Redis) runs the job and sends ``job.progress`` messages,
0 to 100 %, to the job's group. The last one has ``"done": True``.

Reporting to a group, not to one channel, is what lets a page follow its jobs across a
reconnect: the new connection joins the group again (see :mod:`demo.consumers`). A group
does not replay what it carried while the page had no connection, so the job also saves
each step in a :mod:`demo.progress` store, and the new connection starts from the latest:
a job that ended meanwhile shows done.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Final

from demo.progress import ProgressStore
from fast_channels.layers import ChannelLayer
from fast_channels.types import Message

__all__ = [
    "JOBS_CHANNEL",
    "STEP_SECONDS_ENV",
    "is_job_id",
    "job_group",
    "job_request",
    "run_job",
    "serve_jobs",
    "step_seconds",
]

JOBS_CHANNEL: Final = "demo-jobs"
STEPS: Final = 20
STEP_SECONDS: Final = 0.15
STEP_SECONDS_ENV: Final = "DEMO_JOB_STEP_SECONDS"
MAX_STEP_SECONDS: Final = 10.0
_JOB_ID: Final = re.compile(r"[0-9a-f]{8}")

logger = logging.getLogger("demo.jobs")


def is_job_id(value: object) -> bool:
    """Whether ``value`` is a job id as ``POST /jobs`` makes them: 8 lowercase hex digits."""
    return isinstance(value, str) and _JOB_ID.fullmatch(value) is not None


def job_group(job: str) -> str:
    """The layer group that hears ``job``'s progress."""
    return f"job-{job}"


def job_request(job: str) -> Message:
    """The message that asks a worker to run ``job``."""
    return {"type": "job.run", "job": job}


def step_seconds() -> float:
    """How long each of a job's 20 steps takes: ``DEMO_JOB_STEP_SECONDS``, else 0.15.

    Raises ``ValueError`` when the variable is set to anything but a number of seconds
    above 0 and at most 10.
    """
    raw = os.environ.get(STEP_SECONDS_ENV, "")
    if not raw:
        return STEP_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_STEP_SECONDS:
        raise ValueError(
            f"{STEP_SECONDS_ENV}={raw!r}: set it to seconds per job step, above 0 and at "
            f"most {MAX_STEP_SECONDS:g} (or unset it for {STEP_SECONDS})"
        )
    return seconds


async def run_job(
    layer: ChannelLayer,
    request: Message,
    *,
    progress: ProgressStore,
    worker: str,
    step: float = STEP_SECONDS,
) -> None:
    """Do the (pretend) work in ``STEPS`` steps of ``step`` seconds, reporting each one
    to the job's group, and saving it in ``progress`` first."""
    job = request.get("job")
    if not is_job_id(job):
        logger.warning("ignored a malformed job request: %r", request)
        return
    group = job_group(str(job))
    for done_steps in range(STEPS + 1):
        if done_steps:
            await asyncio.sleep(step)
        report = {
            "type": "job.progress",
            "job": job,
            "percent": done_steps * 100 // STEPS,
            "worker": worker,
            "done": done_steps == STEPS,
        }
        await progress.save(report)
        await layer.group_send(group, report)


async def _run_logged(
    layer: ChannelLayer, request: Message, progress: ProgressStore, worker: str, step: float
) -> None:
    try:
        await run_job(layer, request, progress=progress, worker=worker, step=step)
    except Exception:
        logger.exception("job %r failed", request.get("job"))


async def serve_jobs(
    layer: ChannelLayer, *, progress: ProgressStore, worker: str, step: float = STEP_SECONDS
) -> None:
    """Run every job sent to ``demo-jobs``, several at once, until cancelled.

    On cancellation it stops receiving (no message is lost: a cancelled ``receive()``
    keeps it queued) and lets the jobs in hand finish before returning.
    """
    running: set[asyncio.Task[None]] = set()
    try:
        while True:
            request = await layer.receive(JOBS_CHANNEL)
            task = asyncio.create_task(_run_logged(layer, request, progress, worker, step))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:
        if running:
            await asyncio.gather(*running, return_exceptions=True)
