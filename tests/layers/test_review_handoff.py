"""Regression tests from a review of the receive hot path (hand-off, take/abandon, the
inline receive, the pub/sub epoch cache): cancellation at each await point, wait_for and
timeout around receive, close racing a hand-off, puts from another loop, and the pub/sub
fast path across loop changes, flush and a reconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fast_channels.exceptions import InvalidChannelNameError, LayerClosedError
from fast_channels.layers import BaseChannelLayer, InMemoryChannelLayer
from fast_channels.layers.redis import RedisPubSubChannelLayer
from tests.layers.redis.queue_helpers import raw
from tests.servers import RedisProcess


async def test_wait_for_cancelled_after_hand_off_keeps_the_message() -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    waiter = asyncio.create_task(asyncio.wait_for(layer.receive(channel), 10))
    for _ in range(3):
        await asyncio.sleep(0)  # wait_for's inner task now waits on the mailbox
    assert layer.statistics().waiting_receivers == 1
    await layer.send(channel, {"type": "m", "n": 1})  # handed; nobody ran yet
    waiter.cancel()
    try:
        got: dict[str, Any] | None = await waiter
    except asyncio.CancelledError:
        got = None
    if got is None:
        assert (await asyncio.wait_for(layer.receive(channel), 1))["n"] == 1
    stats = layer.statistics()
    assert (stats.received, stats.buffered, stats.waiting_receivers) == (1, 0, 0)


async def test_timeout_expiring_with_a_handed_message_keeps_it() -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    loop = asyncio.get_running_loop()
    scopes: list[asyncio.Timeout] = []

    async def receive_within() -> dict[str, Any] | None:
        async with asyncio.timeout(10) as scope:
            scopes.append(scope)
            return await layer.receive(channel)
        return None

    waiter = asyncio.create_task(receive_within())
    await asyncio.sleep(0)
    scopes[0].reschedule(loop.time())  # the timeout fires in the next iteration ...
    await layer.send(channel, {"type": "m", "n": 1})  # ... and the message is handed now
    try:
        got = await waiter
    except TimeoutError:
        got = None
    if got is None:
        got = await asyncio.wait_for(layer.receive(channel), 1)
    assert got["n"] == 1
    assert layer.statistics().buffered == 0


async def test_many_cancelled_receivers_lose_nothing() -> None:
    """Three receivers per message, one cancelled right after the hand-off, the others
    at their await: every message is received exactly once, nothing stays waiting."""
    layer = InMemoryChannelLayer(capacity=1000)
    channel = await layer.new_channel()
    received: list[int] = []
    for n in range(200):
        waiters = [asyncio.create_task(layer.receive(channel)) for _ in range(3)]
        await asyncio.sleep(0)
        await layer.send(channel, {"type": "m", "n": n})
        waiters[n % 3].cancel()
        await asyncio.sleep(0)
        for w in waiters:
            w.cancel()  # whoever has not returned yet: cancelled at its await
        results = await asyncio.gather(*waiters, return_exceptions=True)
        received.extend(r["n"] for r in results if not isinstance(r, BaseException))
    while layer.statistics().buffered:
        received.append((await layer.receive(channel))["n"])
    assert sorted(received) == list(range(200))
    stats = layer.statistics()
    assert (stats.received, stats.buffered, stats.waiting_receivers) == (200, 0, 0)


async def test_a_put_from_another_running_loop_never_resolves_our_future() -> None:
    """Debug mode makes asyncio raise if another thread touches this loop's futures."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    try:
        layer = InMemoryChannelLayer()
        channel = await layer.new_channel()
        for n in range(50):
            waiter = asyncio.create_task(layer.receive(channel))
            await asyncio.sleep(0)
            await asyncio.to_thread(asyncio.run, layer.send(channel, {"type": "m", "n": n}))
            assert (await asyncio.wait_for(waiter, 1))["n"] == n
    finally:
        loop.set_debug(False)


async def test_close_racing_a_hand_off() -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    handed = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "m", "n": 1})  # handed, not run yet
    other = asyncio.create_task(layer.receive(await layer.new_channel()))
    await asyncio.sleep(0)
    await layer.aclose()
    assert (await asyncio.wait_for(handed, 1))["n"] == 1  # delivered: it was handed
    with pytest.raises(LayerClosedError):
        await asyncio.wait_for(other, 1)
    with pytest.raises(LayerClosedError):
        await layer.receive(channel)


async def test_receive_on_a_closed_layer_raises(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    waiter = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0.05)
    await layer.aclose()
    with pytest.raises(LayerClosedError):
        await asyncio.wait_for(waiter, 2)
    with pytest.raises(LayerClosedError):
        await layer.receive(channel)


# -- pub/sub: the epoch cache never skips a subscription it needs ------------------------


def _pubsub(url: str, prefix: str) -> RedisPubSubChannelLayer:
    return RedisPubSubChannelLayer(hosts=[url], prefix=prefix)


@pytest.mark.redis
def test_pubsub_fast_path_follows_the_subscriptions_between_loops(
    redis_server: RedisProcess,
) -> None:
    """Two live loops used in turn receive on the same named channel; each time the
    subscriptions move, a receive must not skip re-subscribing on the new home."""
    prefix = "review-epoch-loops"
    receiver = _pubsub(redis_server.url, prefix)
    sender = _pubsub(redis_server.url, prefix)

    async def round_trip(i: int) -> None:
        for j in range(3):  # the first receive subscribes, the next ones take the fast path
            waiter = asyncio.create_task(receiver.receive("review.named"))
            await asyncio.sleep(0.05)
            await sender.send("review.named", {"type": "m", "i": i, "j": j})
            assert await asyncio.wait_for(waiter, 2) == {"type": "m", "i": i, "j": j}
        await receiver.new_channel()  # moves the subscriptions here if they were elsewhere

    with asyncio.Runner() as a, asyncio.Runner() as b:
        for i in range(6):
            (a if i % 2 == 0 else b).run(round_trip(i))
        a.run(receiver.aclose())
        a.run(sender.aclose())


@pytest.mark.redis
def test_pubsub_fast_path_after_asyncio_run_ends(redis_server: RedisProcess) -> None:
    prefix = "review-epoch-run"
    receiver = _pubsub(redis_server.url, prefix)
    sender = _pubsub(redis_server.url, prefix)

    async def round_trip(i: int) -> None:
        for j in range(3):
            waiter = asyncio.create_task(receiver.receive("review.named"))
            await asyncio.sleep(0.05)
            await sender.send("review.named", {"type": "m", "i": i, "j": j})
            assert await asyncio.wait_for(waiter, 2) == {"type": "m", "i": i, "j": j}

    for i in range(4):
        asyncio.run(round_trip(i))
    asyncio.run(receiver.aclose())
    asyncio.run(sender.aclose())


@pytest.mark.redis
async def test_pubsub_fast_path_after_flush_and_reconnect(redis_server: RedisProcess) -> None:
    prefix = "review-epoch-flush"
    receiver = _pubsub(redis_server.url, prefix)
    sender = _pubsub(redis_server.url, prefix)
    try:
        channel = await receiver.new_channel()
        await receiver.group_add("review-room", channel)
        await sender.send(channel, {"type": "m", "n": 0})
        assert (await asyncio.wait_for(receiver.receive(channel), 2))["n"] == 0
        await receiver.flush()  # drops group subscriptions, keeps the channel's
        await sender.send(channel, {"type": "m", "n": 1})
        assert (await asyncio.wait_for(receiver.receive(channel), 2))["n"] == 1
        await receiver.group_add("review-room", channel)
        await sender.group_send("review-room", {"type": "g"})
        assert await asyncio.wait_for(receiver.receive(channel), 2) == {"type": "g"}
        # The subscriber connection is killed; it reconnects and resubscribes by itself.
        await raw(redis_server.url, "CLIENT", "KILL", "TYPE", "pubsub")
        got: dict[str, Any] | None = None
        for n in range(100):
            await sender.send(channel, {"type": "m", "n": 100 + n})
            try:
                got = await asyncio.wait_for(receiver.receive(channel), 0.1)
            except TimeoutError:
                continue
            if got["type"] != "layer.reconnected":  # the resync notice comes first
                break
        assert got is not None
        assert got["n"] >= 100
        assert receiver.statistics().extra["reconnects"] >= 1
    finally:
        await receiver.aclose()
        await sender.aclose()


@pytest.mark.parametrize("name", [["a"], {"a": 1}])
async def test_receive_with_an_unhashable_name_raises_invalid_channel_name(
    layer: BaseChannelLayer, name: Any
) -> None:
    """118a031 looked the name up in the valid-name cache before validating it, so an
    unhashable name raised TypeError (fixed in d7e46b4)."""
    with pytest.raises(InvalidChannelNameError):
        await layer.receive(name)
