"""The queue layer's readers keep what Redis popped for them while the event loop was stalled.

``BLMPOP`` takes the entries out of Redis as it answers; the reply on the wire is their only
copy. A loop blocked (``time.sleep``, a handler that does not await) past the read's
deadline must not make the reader throw that reply away with its connection.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Protocol, cast

import pytest
import redis

from fast_channels.consumer import AsyncConsumer
from fast_channels.layers import register_channel_layer
from fast_channels.layers.redis import RedisChannelLayer
from fast_channels.types import Message
from fast_channels.worker import Worker
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

pytestmark = [pytest.mark.redis]

SOCKET_TIMEOUT = 2.0
"""Its readers then wait up to 1 s in each BLMPOP: the window in which a send is popped."""
STALL = SOCKET_TIMEOUT + 0.3
"""Longer than a read's whole deadline, from any moment the pop can have been sent."""


class _SyncCommands(Protocol):
    def execute_command(self, *args: str) -> Any: ...


def _command(server: RedisProcess, *args: str) -> Any:
    """One command, blocking (also while the event loop is meant to stall)."""
    client = redis.Redis(port=server.port, socket_timeout=5, decode_responses=True)
    try:
        return cast(_SyncCommands, client).execute_command(*args)
    finally:
        client.close()


def _blocked_in_blmpop(server: RedisProcess) -> bool:
    listing = cast(str, _command(server, "CLIENT", "LIST"))
    for line in listing.splitlines():
        fields = {key: value for key, _, value in (f.partition("=") for f in line.split())}
        if fields.get("cmd") == "blmpop" and "b" in fields.get("flags", ""):
            return True
    return False


async def _wait_blocked(server: RedisProcess) -> None:
    deadline = time.monotonic() + 10
    while not await asyncio.to_thread(_blocked_in_blmpop, server):
        if time.monotonic() > deadline:
            raise AssertionError("the reader never waited in BLMPOP")
        await asyncio.sleep(0.01)


def _send_from_another_client(url: str, prefix: str, channel: str, message: Message) -> None:
    """Send with a layer object of its own on a loop of its own (another thread), as
    another process would."""

    async def send() -> None:
        async with RedisChannelLayer(hosts=[url], prefix=prefix) as other:
            await other.send(channel, message)

    thread = threading.Thread(target=asyncio.run, args=(send(),))
    thread.start()
    thread.join()


@pytest.mark.parametrize("kind", ["new_channel", "named"])
async def test_a_message_popped_while_the_loop_is_stalled_is_delivered(
    kind: str, redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request, kind)
    url = redis_server.url
    async with RedisChannelLayer(
        hosts=[url], prefix=prefix, socket_timeout=SOCKET_TIMEOUT
    ) as layer:
        channel = await layer.new_channel() if kind == "new_channel" else "jobs"
        key = f"{prefix}:in:{layer.token}" if kind == "new_channel" else f"{prefix}:q:jobs"
        exercised = 0
        for attempt in range(8):
            receiving = asyncio.create_task(layer.receive(channel))
            await _wait_blocked(redis_server)
            # The loop stalls from here on: the message is sent, and popped by the reader's
            # waiting BLMPOP, while the reader cannot read the reply.
            started = time.monotonic()
            _send_from_another_client(url, prefix, channel, {"type": "job", "n": attempt})
            popped = _command(redis_server, "LLEN", key) == 0  # else its BLMPOP had ended
            time.sleep(max(0.0, STALL - (time.monotonic() - started)))  # noqa: ASYNC251
            got = await asyncio.wait_for(receiving, 10)
            assert got == {"type": "job", "n": attempt}
            exercised += popped
            if exercised:
                break
        assert exercised, "the message never reached a waiting BLMPOP"
        assert layer.statistics().extra["redis_errors"] == 0


async def test_a_pop_redis_never_answers_ends_and_the_reader_reconnects(
    own_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """The deadline still ends a read while the loop runs: a paused Redis is given up
    on after ``socket_timeout`` (counted), and the reader picks up when it answers again."""
    async with RedisChannelLayer(
        hosts=[own_redis.url], prefix=prefix_for(request), socket_timeout=SOCKET_TIMEOUT
    ) as layer:
        channel = await layer.new_channel()
        receiving = asyncio.create_task(layer.receive(channel))
        await _wait_blocked(own_redis)
        own_redis.pause()
        try:
            deadline = time.monotonic() + 20
            while layer.statistics().extra["redis_errors"] == 0:
                assert time.monotonic() < deadline, "the reader waited forever"
                await asyncio.sleep(0.05)
        finally:
            own_redis.resume()
        await _send_eventually(layer, channel)
        assert (await asyncio.wait_for(receiving, 10))["type"] == "after"


async def _send_eventually(layer: RedisChannelLayer, channel: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            await layer.send(channel, {"type": "after"})
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


class _BlockingConsumer(AsyncConsumer):
    """``job.slow`` blocks the event loop for longer than the default socket timeout."""

    started = threading.Event()

    async def job_slow(self, message: Message) -> None:
        type(self).started.set()
        time.sleep(5.5)  # noqa: ASYNC251 -- the handler blocks the loop

    async def job_quick(self, message: Message) -> None:
        await self.channel_layer.send("done", {"type": "done"})


@pytest.mark.slow
async def test_a_worker_whose_handler_blocks_the_loop_loses_no_job(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """A worker on two channels: while one job's handler blocks the loop, the other
    channel's reader has a pop waiting in Redis, which takes the next job (default
    ``socket_timeout``: 5 s)."""
    prefix = prefix_for(request)
    url = redis_server.url
    layer = RedisChannelLayer(hosts=[url], prefix=prefix)
    register_channel_layer("default", layer)
    _BlockingConsumer.started.clear()
    worker = Worker(_BlockingConsumer, ["slow", "quick"])
    running = asyncio.create_task(worker.run())
    try:
        await layer.send("slow", {"type": "job.slow"})

        def send_during_the_handler() -> None:
            _BlockingConsumer.started.wait(20)
            _send_from_another_client(url, prefix, "quick", {"type": "job.quick"})

        sender = threading.Thread(target=send_during_the_handler)
        sender.start()
        assert await asyncio.wait_for(layer.receive("done"), 20) == {"type": "done"}
        await asyncio.to_thread(sender.join)
    finally:
        worker.stop()
        await running
        await layer.aclose()
