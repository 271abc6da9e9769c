"""The demo's job worker, a process of its own: ``python -m demo.worker`` (needs ``REDIS_URL``).

It receives job requests on the ``demo-jobs`` channel of the Redis layer and sends their
progress to each job's group (``job-<id>``), whose members the web process serves, saving
the latest step of each job in Redis too (:mod:`demo.progress`) for pages that join late.
SIGINT / SIGTERM stop it: it stops receiving and lets the jobs in hand finish, for at
most ``DEMO_STOP_GRACE_SECONDS`` (default 10); a job still running then is reported lost
to its page. So does the end of its standard input with ``--stop-when-stdin-closes``
(``python -m demo`` starts it that way, so that it never outlives the web server). Further
stop requests (Ctrl-C reaches both processes, and then the web server closes the pipe and
sends SIGTERM) do not cut the grace period short.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from demo.jobs import JOBS_CHANNEL, STEP_SECONDS, STOP_GRACE_SECONDS, serve_jobs, step_seconds
from demo.layers import RedisUnreachableError, check_reachable, make_layer, redis_url
from demo.progress import RedisProgress

__all__ = ["GRACE_ENV", "main", "stop_grace_seconds", "work"]

GRACE_ENV = "DEMO_STOP_GRACE_SECONDS"

logger = logging.getLogger("demo.worker")


def stop_grace_seconds() -> float:
    """``DEMO_STOP_GRACE_SECONDS`` (0 to 60), else ``STOP_GRACE_SECONDS``; ValueError if bad."""
    raw = os.environ.get(GRACE_ENV, "")
    if not raw:
        return STOP_GRACE_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise ValueError(f"{GRACE_ENV}={raw!r}: set it to seconds from 0 to 60, or unset it")
    return seconds


class _Stop:
    """The worker's stop request: the first one counts, the others are only logged."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def request(self, why: str) -> None:
        if self.event.is_set():
            logger.info("worker pid %d: %s; already stopping", os.getpid(), why)
            return
        logger.info("worker pid %d: %s, stopping", os.getpid(), why)
        self.event.set()


def _stop_at_eof(stop: _Stop) -> None:
    """Request a stop once standard input reaches end of file (its writer is gone)."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            stop.request("stdin closed")

    loop.add_reader(fd, readable)


async def work(
    url: str,
    *,
    stop_when_stdin_closes: bool = False,
    step: float = STEP_SECONDS,
    grace: float = STOP_GRACE_SECONDS,
) -> None:
    """Serve jobs on the Redis layer at ``url`` until SIGINT or SIGTERM (or stdin's EOF)."""
    layer = make_layer(url)
    try:
        await check_reachable(layer, url)
    except RedisUnreachableError:
        await layer.aclose()
        raise
    progress = RedisProgress(url)
    loop = asyncio.get_running_loop()
    stop = _Stop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.request, f"received {signum.name}")
    if stop_when_stdin_closes:
        _stop_at_eof(stop)
    logger.info("worker pid %d: waiting for jobs on %r", os.getpid(), JOBS_CHANNEL)
    worker = f"worker pid {os.getpid()}"
    try:
        await serve_jobs(
            layer, progress=progress, worker=worker, stop=stop.event, step=step, grace=grace
        )
    finally:
        await layer.aclose()
        await progress.aclose()
    logger.info("worker pid %d: stopped", os.getpid())


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m demo.worker``."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.worker",
        description="Run the demo's background jobs from the Redis layer at REDIS_URL.",
    )
    parser.add_argument(
        "--stop-when-stdin-closes",
        action="store_true",
        help="also stop when standard input closes (how python -m demo ties it to itself)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    url = redis_url()
    if url is None:
        print("demo.worker needs REDIS_URL (e.g. redis://127.0.0.1:6379)", file=sys.stderr)
        return 2
    try:
        step = step_seconds()
        grace = stop_grace_seconds()
    except ValueError as exc:
        print(f"demo.worker: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(
            work(url, stop_when_stdin_closes=args.stop_when_stdin_closes, step=step, grace=grace)
        )
    except RedisUnreachableError as exc:
        print(f"demo.worker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
