"""The demo's job worker, a process of its own: ``python -m demo.worker`` (needs ``REDIS_URL``).

It receives job requests on the ``demo-jobs`` channel of the Redis layer and sends their
progress to each job's group (``job-<id>``), whose members the web process serves, saving
the latest step of each job in Redis too (:mod:`demo.progress`) for pages that join late.
SIGINT / SIGTERM stop it after the jobs in hand have finished; so does the end of its
standard input with ``--stop-when-stdin-closes`` (``python -m demo`` starts it that way, so
that it never outlives the web server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from demo.jobs import JOBS_CHANNEL, STEP_SECONDS, serve_jobs, step_seconds
from demo.layers import RedisUnreachableError, check_reachable, make_layer, redis_url
from demo.progress import RedisProgress

__all__ = ["main", "work"]

logger = logging.getLogger("demo.worker")


def _cancel_at_eof(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` once standard input reaches end of file (its writer is gone)."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            logger.info("worker pid %d: stdin closed, stopping", os.getpid())
            task.cancel()

    loop.add_reader(fd, readable)


async def work(
    url: str, *, stop_when_stdin_closes: bool = False, step: float = STEP_SECONDS
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
    worker = f"worker pid {os.getpid()}"
    serving = asyncio.create_task(serve_jobs(layer, progress=progress, worker=worker, step=step))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, serving.cancel)
    if stop_when_stdin_closes:
        _cancel_at_eof(serving)
    logger.info("worker pid %d: waiting for jobs on %r", os.getpid(), JOBS_CHANNEL)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await serving
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
    except ValueError as exc:
        print(f"demo.worker: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(work(url, stop_when_stdin_closes=args.stop_when_stdin_closes, step=step))
    except RedisUnreachableError as exc:
        print(f"demo.worker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
