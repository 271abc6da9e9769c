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

Every report has a ``state``: ``queued`` (saved by ``POST /jobs``), ``running``, ``done``,
or ``lost`` (with a ``reason``), and the time it was made (``at``). A worker asked to stop
stops receiving and gives the jobs in hand ``grace`` seconds to finish; a job still running
then is cancelled and reported lost, so a page never shows a bar that stopped without a
word. (A worker killed outright reports nothing: the page says a job is stalled when it
has heard nothing of it for :func:`stale_seconds`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from typing import Final

from demo.progress import ProgressStore
from fast_channels.layers import ChannelLayer
from fast_channels.types import Message

__all__ = [
    "JOBS_CHANNEL",
    "STEP_SECONDS_ENV",
    "STOP_GRACE_SECONDS",
    "is_job_id",
    "job_group",
    "job_request",
    "lost_report",
    "queued_report",
    "run_job",
    "serve_jobs",
    "stale_seconds",
    "step_seconds",
]

JOBS_CHANNEL: Final = "demo-jobs"
STEPS: Final = 20
STEP_SECONDS: Final = 0.15
STEP_SECONDS_ENV: Final = "DEMO_JOB_STEP_SECONDS"
MAX_STEP_SECONDS: Final = 10.0
STOP_GRACE_SECONDS: Final = 10.0
"""How long a stopping worker lets its jobs in hand run before it reports them lost."""
STALE_STEPS: Final = 10
MIN_STALE_SECONDS: Final = 5.0
REPORT_TIMEOUT: Final = 2.0
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


def stale_seconds(step: float) -> float:
    """How long a page waits for news of a running job before it says the job stalled."""
    return max(MIN_STALE_SECONDS, STALE_STEPS * step)


def queued_report(job: str) -> Message:
    """What ``POST /jobs`` saves before it queues ``job``: known, not started."""
    return {
        "type": "job.progress",
        "job": job,
        "percent": 0,
        "worker": "",
        "done": False,
        "state": "queued",
        "at": time.time(),
    }


def lost_report(job: str, percent: int, *, worker: str, reason: str) -> Message:
    """The report of a job that will never finish, and why."""
    return {
        "type": "job.progress",
        "job": job,
        "percent": percent,
        "worker": worker,
        "done": False,
        "state": "lost",
        "reason": reason,
        "at": time.time(),
    }


async def _report(layer: ChannelLayer, progress: ProgressStore, report: Message) -> None:
    await progress.save(report)
    await layer.group_send(job_group(str(report["job"])), report)


async def run_job(
    layer: ChannelLayer,
    request: Message,
    *,
    progress: ProgressStore,
    worker: str,
    step: float = STEP_SECONDS,
) -> None:
    """Do the (pretend) work in ``STEPS`` steps of ``step`` seconds, reporting each one
    to the job's group, and saving it in ``progress`` first.

    Cancelled (its worker stopping), it reports the job lost, then re-raises.
    """
    job = request.get("job")
    if not is_job_id(job):
        logger.warning("ignored a malformed job request: %r", request)
        return
    percent = 0
    try:
        for done_steps in range(STEPS + 1):
            if done_steps:
                await asyncio.sleep(step)
            percent = done_steps * 100 // STEPS
            finished = done_steps == STEPS
            report = {
                "type": "job.progress",
                "job": job,
                "percent": percent,
                "worker": worker,
                "done": finished,
                "state": "done" if finished else "running",
                "at": time.time(),
            }
            await _report(layer, progress, report)
    except asyncio.CancelledError:
        reason = f"{worker} stopped before this job finished"
        logger.warning("job %s lost at %d%%: %s", job, percent, reason)
        lost = lost_report(str(job), percent, worker=worker, reason=reason)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(REPORT_TIMEOUT):
                await _report(layer, progress, lost)
        raise


async def _run_logged(
    layer: ChannelLayer, request: Message, progress: ProgressStore, worker: str, step: float
) -> None:
    try:
        await run_job(layer, request, progress=progress, worker=worker, step=step)
    except Exception:
        logger.exception("job %r failed", request.get("job"))


async def serve_jobs(
    layer: ChannelLayer,
    *,
    progress: ProgressStore,
    worker: str,
    stop: asyncio.Event,
    step: float = STEP_SECONDS,
    grace: float = STOP_GRACE_SECONDS,
) -> None:
    """Run every job sent to ``demo-jobs``, several at once, until ``stop`` is set.

    Then it stops receiving (no message is lost: a cancelled ``receive()`` keeps it queued
    for the next worker) and lets the jobs in hand finish, for at most ``grace`` seconds;
    those still running are cancelled and report themselves lost. Cancelled itself, it
    cancels the jobs in hand at once (they report themselves lost too).
    """
    running: set[asyncio.Task[None]] = set()
    stopping = asyncio.create_task(stop.wait())
    receiving: asyncio.Task[Message] | None = None
    try:
        while not stop.is_set():
            receiving = asyncio.create_task(layer.receive(JOBS_CHANNEL))
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
            try:
                request = await receiving
            except asyncio.CancelledError:
                current = asyncio.current_task()
                ours = current is not None and current.cancelling() > 0
                if receiving.cancelled() and stop.is_set() and not ours:
                    break
                raise
            receiving = None
            task = asyncio.create_task(_run_logged(layer, request, progress, worker, step))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            logger.info(
                "%s: stopping, finishing %d job(s) in hand (at most %gs)",
                worker,
                len(running),
                grace,
            )
            await asyncio.wait(running, timeout=grace)
    finally:
        stopping.cancel()
        if receiving is not None:
            receiving.cancel()  # cancel-safe: a message it had not taken stays queued
            with contextlib.suppress(asyncio.CancelledError, Exception):
                request = await receiving
                logger.warning("job request %r arrived as the worker stopped: lost", request)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
