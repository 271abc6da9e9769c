"""The queue layer between separate OS processes (multiprocessing, spawn), on real Redis."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess

import pytest

from fast_channels.layers.redis import RedisChannelLayer
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

pytestmark = [pytest.mark.redis, pytest.mark.slow]

OLD_KEY, NEW_KEY = "old-key", "new-key"


def _spawn(target: Callable[..., object], *args: object) -> BaseProcess:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    return process


async def _join(processes: list[BaseProcess]) -> None:
    for process in processes:
        await asyncio.to_thread(process.join, 20)
        assert process.exitcode == 0


@pytest.fixture
def children() -> Iterator[list[BaseProcess]]:
    """Processes a test starts; any still running at the end are killed."""
    started: list[BaseProcess] = []
    yield started
    for process in started:
        if process.is_alive():
            process.kill()
            process.join(5)


def named_worker(url: str, prefix: str) -> None:
    """Take jobs from the shared named channel "jobs" until told to stop."""

    async def work() -> None:
        async with RedisChannelLayer(hosts=[url], prefix=prefix, capacity=1000) as layer:
            while True:
                job = await layer.receive("jobs")
                if job["type"] == "stop":
                    return
                await layer.send("results", {"type": "done", "i": job["i"], "pid": os.getpid()})

    asyncio.run(work())


def member_process(url: str, prefix: str) -> None:
    """Join "room" with a channel of its own, then echo what it receives to "replies".

    Its keys are rotated ([new, old]) while the test's layer is mid-rotation ([old, new]):
    each side reads the other."""

    async def work() -> None:
        async with RedisChannelLayer(
            hosts=[url], prefix=prefix, symmetric_encryption_keys=[NEW_KEY, OLD_KEY]
        ) as layer:
            channel = await layer.new_channel()
            await layer.group_add("room", channel)
            await layer.send("ready", {"type": "ready", "channel": channel})
            got = [(await layer.receive(channel))["type"] for _ in range(2)]
            await layer.send("replies", {"type": "reply", "got": got, "channel": channel})

    asyncio.run(work())


async def test_named_channel_shared_by_two_processes_delivers_each_job_once(
    redis_server: RedisProcess, request: pytest.FixtureRequest, children: list[BaseProcess]
) -> None:
    prefix = prefix_for(request)
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix, capacity=1000) as layer:
        workers = [_spawn(named_worker, redis_server.url, prefix) for _ in range(2)]
        children += workers
        for i in range(300):
            await layer.send("jobs", {"type": "job", "i": i})
        results = [await asyncio.wait_for(layer.receive("results"), 20) for _ in range(300)]
        for _ in workers:
            await layer.send("jobs", {"type": "stop"})
        await _join(workers)
        assert sorted(r["i"] for r in results) == list(range(300))
        assert {r["pid"] for r in results} <= {w.pid for w in workers}
        await layer.flush()


async def test_send_and_group_send_reach_another_process_with_rotated_keys(
    redis_server: RedisProcess, request: pytest.FixtureRequest, children: list[BaseProcess]
) -> None:
    prefix = prefix_for(request)
    async with RedisChannelLayer(
        hosts=[redis_server.url], prefix=prefix, symmetric_encryption_keys=[OLD_KEY, NEW_KEY]
    ) as layer:
        members = [_spawn(member_process, redis_server.url, prefix) for _ in range(2)]
        children += members
        channels = [
            (await asyncio.wait_for(layer.receive("ready"), 20))["channel"] for _ in members
        ]
        for channel in channels:
            await layer.send(channel, {"type": "direct"})
        await layer.group_send("room", {"type": "group"})
        replies = [await asyncio.wait_for(layer.receive("replies"), 20) for _ in members]
        await _join(members)
        assert sorted(r["channel"] for r in replies) == sorted(channels)
        assert all(r["got"] == ["direct", "group"] for r in replies)
        await layer.flush()
