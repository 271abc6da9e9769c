"""Presence leases and history epochs on real Redis, with real processes, for both layers.

* A member of a process killed with SIGKILL ends within about one lease (not after
  ``group_expiry``), and the group hears ``presence.left``.
* A live process's members never end by themselves: across many leases, and after Redis
  lost them (FLUSHALL), when its next renewal records them again.
* Redis restarted without persistence: the group's history begins a new epoch, an old
  position is answered ``Unrecoverable("epoch")`` and nothing of the new history is replayed
  for it; the live process's presence comes back.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from multiprocessing.process import BaseProcess
from typing import Any, cast

import pytest

from fast_channels.exceptions import LayerConnectionError
from fast_channels.layers import (
    BaseChannelLayer,
    GroupOptions,
    Position,
    Recovered,
    Unrecoverable,
)
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.servers import RedisProcess, start_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]

LEASE = 0.6
DEADLINE = 15.0
ROOMS = {"room.*": GroupOptions(history_size=100, presence_events=True)}
LAYERS: dict[str, type[RedisChannelLayer] | type[RedisPubSubChannelLayer]] = {
    "queue": RedisChannelLayer,
    "pubsub": RedisPubSubChannelLayer,
}


def make(kind: str, url: str, prefix: str) -> BaseChannelLayer:
    return LAYERS[kind](
        hosts=[url], prefix=prefix, presence_lease=LEASE, group_options=ROOMS, socket_timeout=1
    )


def member_process(kind: str, url: str, prefix: str) -> None:
    """Join "room.1"'s presence and keep the lease renewed until killed."""

    async def work() -> None:
        layer = make(kind, url, prefix)
        channel = await layer.new_channel()
        await layer.presence_join("room.1", channel, {"user": "child", "pid": os.getpid()})
        await asyncio.Event().wait()

    asyncio.run(work())


async def until(check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Poll ``check`` until it holds; the seconds it took (fails after DEADLINE)."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > DEADLINE:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def receive_type(layer: BaseChannelLayer, channel: str, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` on ``channel`` (others are skipped)."""
    async with asyncio.timeout(DEADLINE):
        while True:
            message = await layer.receive(channel)
            if message["type"] == kind:
                return message


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisProcess]:
    """A redis-server of this test only (no persistence), that it may kill and restart."""
    server = await asyncio.to_thread(start_redis)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def processes() -> Iterator[list[BaseProcess]]:
    started: list[BaseProcess] = []
    yield started
    for process in started:
        if process.is_alive():
            process.kill()
        process.join(10)


@pytest.mark.parametrize("kind", ["queue", "pubsub"])
async def test_members_of_a_killed_process_end_within_the_lease(
    kind: str,
    redis_server: RedisProcess,
    request: pytest.FixtureRequest,
    processes: list[BaseProcess],
) -> None:
    prefix = prefix_for(request, kind)
    async with make(kind, redis_server.url, prefix) as layer:
        await layer.flush()
        watcher = await layer.new_channel()
        await layer.presence_join("room.1", watcher, {"user": "watcher"})
        child = multiprocessing.get_context("spawn").Process(
            target=member_process, args=(kind, redis_server.url, prefix)
        )
        child.start()
        processes.append(child)

        async def child_present() -> bool:
            return "child" in (await layer.presence("room.1")).users()

        await until(child_present, "the child process's member is present")
        joined = await receive_type(layer, watcher, "presence.joined")
        while joined["info"].get("user") != "child":
            joined = await receive_type(layer, watcher, "presence.joined")
        assert joined["info"]["pid"] == child.pid

        # Alive, it stays present: its renewals outlast many leases.
        stop = time.monotonic() + 4 * LEASE
        while time.monotonic() < stop:
            assert await child_present()
            await asyncio.sleep(LEASE / 6)

        child.kill()  # SIGKILL: no cleanup runs in the child
        child.join(10)
        killed = time.monotonic()

        async def child_gone() -> bool:
            return not await child_present()

        await until(child_gone, "the killed process's member ends")
        gone_after = time.monotonic() - killed
        left = await receive_type(layer, watcher, "presence.left")
        assert (left["channel"], left["info"]["user"]) == (joined["channel"], "child")
        assert list(await layer.presence("room.1")) == [watcher]
        print(f"\n[presence] {kind}: killed member gone after {gone_after:.2f}s (lease {LEASE}s)")


@pytest.mark.parametrize("kind", ["queue", "pubsub"])
async def test_a_live_process_records_its_members_again_after_redis_lost_them(
    kind: str, redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request, kind)
    async with make(kind, redis_server.url, prefix) as layer:
        await layer.flush()
        ada = await layer.new_channel()
        await layer.presence_join("room.1", ada, {"user": "ada"})
        assert (await receive_type(layer, ada, "presence.joined"))["channel"] == ada
        for key in cast(list[bytes], await raw(redis_server.url, "KEYS", f"{prefix}:{{*")):
            await raw(redis_server.url, "DEL", key)

        async def present() -> bool:
            return list(await layer.presence("room.1")) == [ada]

        await until(present, "the renewal records the lost member again")
        again = await receive_type(layer, ada, "presence.joined")
        assert (again["channel"], again["info"]) == (ada, {"user": "ada"})


@pytest.mark.parametrize("kind", ["queue", "pubsub"])
async def test_redis_restart_begins_a_new_epoch_and_replays_nothing_old(
    kind: str, own_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request, kind)
    async with make(kind, own_redis.url, prefix) as layer:
        channel = await layer.new_channel()
        await layer.presence_join("room.1", channel, {"user": "ada"})
        await layer.group_recover("room.1", channel)
        for i in range(3):
            await layer.group_send("room.1", {"type": "chat", "i": i})
        before = await layer.group_position("room.1")
        assert before.offset == 3

        await asyncio.to_thread(own_redis.stop)
        await asyncio.to_thread(own_redis.start)

        async def sent() -> bool:
            try:
                await layer.group_send("room.1", {"type": "chat", "i": "after"})
            except LayerConnectionError:
                return False
            return True

        await until(sent, "the layer reaches the restarted Redis")
        after = await layer.group_position("room.1")
        assert after.epoch != before.epoch
        assert after.offset >= 1
        for since in (before, Position(before.epoch, 0)):
            result = await layer.group_history("room.1", since)
            assert isinstance(result, Unrecoverable)
            assert (result.reason, result.position) == ("epoch", after)
        fresh = await layer.group_history("room.1", Position(after.epoch, 0))
        assert isinstance(fresh, Recovered)
        assert [m["i"] for m in fresh.messages] == ["after"] * after.offset

        async def present_again() -> bool:
            return list(await layer.presence("room.1")) == [channel]

        await until(present_again, "the live member is recorded again after the restart")
