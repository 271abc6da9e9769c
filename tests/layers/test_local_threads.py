"""The local core under puts from another thread (what the sync API does in-process)."""

from __future__ import annotations

import asyncio
import threading

from fast_channels.layers import InMemoryChannelLayer


async def test_puts_from_another_thread_are_never_lost_or_left_unwoken() -> None:
    layer = InMemoryChannelLayer(capacity=10)
    rounds = 3000
    channels = [f"t.{i}" for i in range(rounds)]
    ready = threading.Event()

    def sender() -> None:
        ready.wait(5)
        for channel in channels:
            layer.send_sync(channel, {"type": "ping", "channel": channel})

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        ready.set()
        for channel in channels:
            # Each receive races the other thread's put to the same (new) channel.
            message = await asyncio.wait_for(layer.receive(channel), 5)
            assert message["channel"] == channel
    finally:
        await asyncio.to_thread(thread.join, 10)
    stats = layer.statistics()
    assert (stats.sent, stats.received, stats.buffered) == (rounds, rounds, 0)


async def test_group_changes_from_another_thread_during_fan_out() -> None:
    layer = InMemoryChannelLayer(capacity=1000)
    members = [await layer.new_channel() for _ in range(50)]
    for channel in members:
        await layer.group_add("room", channel)
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            layer.group_add_sync("room", f"churn.{i % 100}")
            layer.group_discard_sync("room", f"churn.{i % 100}")
            i += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for n in range(200):
            await layer.group_send("room", {"type": "tick", "n": n})
            await asyncio.sleep(0)
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 10)
    for channel in members:
        got = [(await layer.receive(channel))["n"] for _ in range(200)]
        assert got == list(range(200))
