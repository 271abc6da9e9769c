"""A worker whose Redis is down says so at once, keeps saying it (bounded), and says when it
is back; real redis-server processes, stopped and started on their port."""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import sys
from collections.abc import Callable, Iterator

import pytest

from fast_channels.layers import register_channel_layer
from fast_channels.layers.redis import RedisChannelLayer
from fast_channels.worker import Worker
from tests.servers import RedisProcess, free_port, start_redis
from tests.worker.apps import PROGRESS_GROUP, ThumbnailConsumer, job
from tests.worker.processes import Process

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

DEADLINE = 25.0
"""Longest wait for a condition: a safety net for a hung worker, never a measurement."""


@pytest.fixture
def redis_later() -> Iterator[tuple[str, list[RedisProcess]]]:
    """A free port for a Redis the test starts when it likes (stopped at the end)."""
    started: list[RedisProcess] = []
    yield f"redis://127.0.0.1:{free_port()}", started
    for server in started:
        server.stop()


class WorkerLog(logging.Handler):
    """The worker's log records, and an event set at each one (the worker logs from the
    test's event loop)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        record.message = record.getMessage()
        self.records.append(record)
        self.changed.set()

    def lines(self, text: str) -> list[logging.LogRecord]:
        return [r for r in self.records if text in r.message]

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def worker_log() -> Iterator[WorkerLog]:
    handler = WorkerLog()
    logger = logging.getLogger("fast_channels.worker")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.setLevel(level)
    logger.removeHandler(handler)


async def test_unreachable_redis_is_reported_at_a_bounded_rate_until_it_is_back(
    redis_later: tuple[str, list[RedisProcess]], worker_log: WorkerLog
) -> None:
    url, started = redis_later
    layer = RedisChannelLayer(hosts=[url], prefix="unreachable")
    register_channel_layer("default", layer)
    worker = Worker(ThumbnailConsumer, ["thumbnails"], retry_delay=0.05, health_interval=0.3)
    run = asyncio.create_task(worker.run())
    try:
        await worker_log.until(lambda: bool(worker_log.lines("still unreachable")))
        first = worker_log.lines("is unreachable (")
        assert len(first) == 1
        assert first[0].levelno == logging.ERROR
        assert first[0].message.startswith("channel layer 'default' is unreachable (")
        assert "no message can be received until it is back" in first[0].message
        assert not worker.statistics().layer_reachable
        await worker_log.until(lambda: len(worker_log.lines("still unreachable")) >= 2)
        repeats = worker_log.lines("still unreachable")
        assert worker.statistics().layer_checks_failed >= len(repeats) + 1
        for earlier, later in itertools.pairwise(repeats):  # said at most every 0.3 s
            assert later.created - earlier.created >= 0.3 - 0.01

        port = int(url.rsplit(":", 1)[1])
        started.append(await asyncio.to_thread(start_redis, port=port))
        await worker_log.until(lambda: bool(worker_log.lines("is reachable again after")))
        assert worker.statistics().layer_reachable
        progress = await layer.new_channel()
        await layer.group_add(PROGRESS_GROUP, progress)
        await layer.send("thumbnails", job(1))
        async with asyncio.timeout(DEADLINE):
            assert (await layer.receive(progress))["state"] == "started"
            assert (await layer.receive(progress))["state"] == "done"
    finally:
        worker.stop()
        await run
        await layer.aclose()


def test_the_worker_command_says_redis_is_unreachable_and_when_it_is_back(
    redis_later: tuple[str, list[RedisProcess]],
) -> None:
    url, started = redis_later
    args = [sys.executable, "-m", "fast_channels", "worker", "thumbnails"]
    args += ["--app", "tests.worker.apps:ThumbnailConsumer"]
    args += ["--setup", "tests.worker.apps:redis_setup"]
    worker = Process(args, redis_url=url)
    try:
        worker.wait_for("receiving from 'thumbnails'")
        line = worker.wait_for("channel layer 'default' is unreachable")
        assert "ERROR fast_channels.worker: channel layer 'default' is unreachable (" in line
        assert "no message can be received until it is back" in line
        started.append(start_redis(port=int(url.rsplit(":", 1)[1])))
        assert "WARNING" in worker.wait_for("channel layer 'default' is reachable again after")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
    finally:
        worker.stop()
