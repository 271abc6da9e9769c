"""Redis killed (SIGKILL) and restarted on the same port under load, for both Redis layers.

Receivers and the sender are separate OS processes (see :mod:`tests.resilience.traffic`).
While Redis is down every ``send``/``group_send`` raises ``LayerConnectionError`` within the
layer's ``socket_timeout``; once it is back, every process resumes by itself (pub/sub:
channel and group subscriptions come back, the local group memberships with them), and
every delivery is either received or was reported to its sender.

The queue layer's Redis writes its append-only file before answering
(``--appendfsync always``), so what it had accepted survives the kill and is delivered
after the restart. Without persistence, messages queued in Redis at the moment of a crash
are gone with it; the sender was told they were accepted, so no layer can report them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from fast_channels.exceptions import LayerConnectionError
from tests.layers.redis.queue_helpers import prefix_for
from tests.resilience.runner import Traffic
from tests.resilience.traffic import account, build_layer, describe_lost, recovery_seconds
from tests.servers import RedisProcess

pytestmark = [pytest.mark.redis]

SOCKET_TIMEOUT = 1.0
FAILED_CALL_BOUND = SOCKET_TIMEOUT * 3
"""A call facing a dead Redis raises within a few socket timeouts, never hangs."""


def layer_options(kind: str, request: pytest.FixtureRequest, **where: Any) -> dict[str, Any]:
    return {
        "prefix": prefix_for(request, kind),
        "capacity": 10_000,
        "socket_timeout": SOCKET_TIMEOUT,
        **where,
    }


def report(title: str, lines: list[str]) -> None:
    print(f"\n[resilience] {title}: " + "; ".join(lines))


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", ["queue", "pubsub"])
async def test_redis_restart_under_load_loses_nothing_silently(
    kind: str,
    killable_redis: RedisProcess,
    traffic: list[Traffic],
    request: pytest.FixtureRequest,
) -> None:
    run = Traffic(kind, layer_options(kind, request, hosts=[killable_redis.url]))
    traffic.append(run)
    await run.start()
    await run.wait_delivery_after(time.time(), within=15)
    await asyncio.sleep(0.5)

    killable_redis.stop()
    down_at = time.time()
    await asyncio.sleep(1.0)
    await asyncio.to_thread(killable_redis.start)
    up_at = time.time()
    await run.wait_delivery_after(up_at, within=15)
    await asyncio.sleep(1.0)
    sender, receivers = await run.finish()

    result = account(run.targets, sender, receivers)
    recovery = recovery_seconds(receivers, up_at)
    failed_during_outage = sum(
        1 for _, _, outcome, t in sender.outcomes if outcome == "failed" and down_at <= t
    )
    report(
        f"restart/{kind}",
        [
            result.summary(),
            f"down {up_at - down_at:.2f}s",
            f"recovery {recovery:.3f}s after Redis answered again",
            f"slowest failing call {max(sender.failed_call_seconds, default=0):.3f}s",
            f"receivers {[r.statistics for r in receivers]}",
        ],
    )
    assert sender.unexpected == []
    assert failed_during_outage > 0, "the sender never noticed Redis was down"
    assert max(sender.failed_call_seconds) <= FAILED_CALL_BOUND
    lost = describe_lost(result.lost[:20], sender, receivers, down_at)
    assert result.lost == [], f"lost silently: {lost}"
    assert result.duplicates == []
    assert result.unknown == []
    assert result.sent == result.received + result.reported + len(result.told)
    if kind == "pubsub":  # both channels of every receiver heard its subscriber broke
        assert all(len({c for c, _ in r.notices}) == 2 for r in receivers), [
            r.notices for r in receivers
        ]


@pytest.mark.parametrize("kind", ["queue", "pubsub"])
async def test_calls_queued_behind_a_hung_call_fail_within_socket_timeout_too(
    kind: str, killable_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """SIGSTOP with calls in flight: a call that waited behind another call's round trip
    fails within ``socket_timeout`` of being made (not after that round trip's timeout
    plus its own). The bound is the documented one, plus slack for a busy machine."""
    timeout = 2.0
    options = layer_options(kind, request, hosts=[killable_redis.url], socket_timeout=timeout)
    async with build_layer(kind, options) as layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        killable_redis.pause()
        try:

            async def timed(call: Awaitable[None]) -> float:
                started = time.monotonic()
                with pytest.raises(LayerConnectionError):
                    await call
                return time.monotonic() - started

            first = asyncio.ensure_future(timed(layer.send(channel, {"type": "first"})))
            await asyncio.sleep(0)  # the first call's round trip is in flight
            behind = [
                asyncio.ensure_future(timed(layer.send(channel, {"type": "behind"}))),
                asyncio.ensure_future(timed(layer.group_send("room", {"type": "behind"}))),
            ]
            took = await asyncio.wait_for(asyncio.gather(first, *behind), timeout * 4)
        finally:
            killable_redis.resume()
        assert max(took) < timeout + 1.0, took


@pytest.mark.parametrize("kind", ["queue", "pubsub"])
async def test_a_hung_redis_fails_calls_within_socket_timeout_then_recovers(
    kind: str, killable_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """SIGSTOP: the port still accepts connections but nothing answers (the worst case:
    a dead host behind a live TCP stack). Calls raise within ``socket_timeout``."""
    options = layer_options(kind, request, hosts=[killable_redis.url])
    layer = build_layer(kind, options)
    async with layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.send(channel, {"type": "before"})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "before"
        killable_redis.pause()
        try:
            for call in (
                layer.send(channel, {"type": "during"}),
                layer.group_send("room", {"type": "during"}),
            ):
                started = time.monotonic()
                with pytest.raises(LayerConnectionError):
                    await asyncio.wait_for(call, FAILED_CALL_BOUND * 2)
                assert time.monotonic() - started <= FAILED_CALL_BOUND
        finally:
            killable_redis.resume()
        deadline = time.monotonic() + 10
        while True:
            try:
                await layer.group_send("room", {"type": "after"})
                got = await asyncio.wait_for(layer.receive(channel), 1)
            except (LayerConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                continue
            if got["type"] == "after":
                break
        await layer.flush()
