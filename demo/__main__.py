"""``python -m demo``: serve the demo with uvicorn, plus a job worker process with Redis."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import subprocess
import sys
from types import FrameType

import uvicorn

from demo.jobs import step_seconds
from demo.layers import RedisUnreachableError, layer_name, probe, redis_url
from demo.worker import stop_grace_seconds

logger = logging.getLogger("demo")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Serve the fast-channels demo. The in-memory layer by default; with "
        "REDIS_URL set, the Redis layer and a separate job worker process.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _stop(worker: subprocess.Popen[bytes], grace: float) -> None:
    """Ask the worker to stop; it has ``grace`` seconds to finish its jobs in hand."""
    if worker.stdin is not None:
        worker.stdin.close()
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=grace + 5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the web server (and the worker, with Redis) until Ctrl-C or SIGTERM."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    url = redis_url()
    try:
        step_seconds()
        grace = stop_grace_seconds()
    except ValueError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    where = "in this process" if url is None else "in a worker process (python -m demo.worker)"
    logger.info(
        "fast-channels demo on http://%s:%d (layer: %s; jobs run %s)",
        args.host,
        args.port,
        layer_name(url),
        where,
    )
    try:
        asyncio.run(probe(url))
    except RedisUnreachableError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    # uvicorn re-raises SIGTERM once it has shut down: make that an exit we can clean up after.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    worker = None
    if url is not None:
        # The worker also stops when this pipe closes, should this process die abruptly.
        worker = subprocess.Popen(
            [sys.executable, "-m", "demo.worker", "--stop-when-stdin-closes"],
            stdin=subprocess.PIPE,
        )
    try:
        uvicorn.run("demo.app:app", host=args.host, port=args.port, log_level="info")
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn has shut down already
    finally:
        if worker is not None:
            _stop(worker, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
