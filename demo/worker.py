"""The demo's job worker, a process of its own: ``python -m demo.worker`` (needs ``REDIS_URL``).

It receives job requests on the ``demo-jobs`` channel of the Redis layer and sends their
progress straight to the requesting browser's channel, which the web process delivers.
SIGINT / SIGTERM stop it after the jobs in hand have finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from demo.jobs import JOBS_CHANNEL, serve_jobs
from demo.layers import make_layer, redis_url

__all__ = ["main", "work"]

logger = logging.getLogger("demo.worker")


async def work(url: str) -> None:
    """Serve jobs on the Redis layer at ``url`` until SIGINT or SIGTERM."""
    layer = make_layer(url)
    loop = asyncio.get_running_loop()
    serving = asyncio.create_task(serve_jobs(layer, worker=f"worker pid {os.getpid()}"))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, serving.cancel)
    logger.info("worker pid %d: waiting for jobs on %r", os.getpid(), JOBS_CHANNEL)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    finally:
        await layer.aclose()
    logger.info("worker pid %d: stopped", os.getpid())


def main() -> int:
    """Entry point of ``python -m demo.worker``."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    url = redis_url()
    if url is None:
        print("demo.worker needs REDIS_URL (e.g. redis://127.0.0.1:6379)", file=sys.stderr)
        return 2
    asyncio.run(work(url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
