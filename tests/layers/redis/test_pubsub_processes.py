"""The pub/sub layer between separate OS processes (multiprocessing, spawn), on real Redis."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from multiprocessing.process import BaseProcess

import pytest

from fast_channels.layers.redis import RedisPubSubChannelLayer
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

pytestmark = [pytest.mark.redis, pytest.mark.slow]

KEYS = ["new-key", "old-key"]


def member_process(url: str, prefix: str) -> None:
    """Join "room" with a channel of its own, tell the parent, echo what arrives."""

    async def work() -> None:
        async with RedisPubSubChannelLayer(
            hosts=[url], prefix=prefix, symmetric_encryption_keys=KEYS
        ) as layer:
            channel = await layer.new_channel()
            await layer.group_add("room", channel)
            await layer.group_send("parent", {"type": "ready", "channel": channel})
            got = [(await layer.receive(channel))["type"] for _ in range(2)]
            await layer.group_send("parent", {"type": "echo", "got": got})

    asyncio.run(work())


def sender_process(url: str, prefix: str, channel: str) -> None:
    """Send to the parent's channel and to its group, then exit."""

    async def work() -> None:
        async with RedisPubSubChannelLayer(
            hosts=[url], prefix=prefix, symmetric_encryption_keys=KEYS[1:]
        ) as layer:
            await layer.send(channel, {"type": "direct"})
            await layer.group_send("parent", {"type": "to-group"})

    asyncio.run(work())


def _spawn(target: Callable[..., None], *args: object) -> BaseProcess:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    return process


async def test_send_and_group_send_cross_processes(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request, "ps")
    async with RedisPubSubChannelLayer(
        hosts=[redis_server.url], prefix=prefix, symmetric_encryption_keys=KEYS
    ) as parent:
        inbox = await parent.new_channel()
        await parent.group_add("parent", inbox)  # subscribed before any child starts

        member = _spawn(member_process, redis_server.url, prefix)
        ready = await asyncio.wait_for(parent.receive(inbox), 30)
        assert ready["type"] == "ready"
        await parent.group_send("room", {"type": "to-room"})
        await parent.send(ready["channel"], {"type": "to-channel"})
        echo = await asyncio.wait_for(parent.receive(inbox), 30)
        assert echo == {"type": "echo", "got": ["to-room", "to-channel"]}

        sender = _spawn(sender_process, redis_server.url, prefix, inbox)
        got = {(await asyncio.wait_for(parent.receive(inbox), 30))["type"] for _ in range(2)}
        assert got == {"direct", "to-group"}
        for process in (member, sender):
            await asyncio.to_thread(process.join, 20)
            assert process.exitcode == 0
