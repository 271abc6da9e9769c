"""Hand-off: a put to a channel whose receiver already waits gives it the payload directly.

A receiver cancelled after it was handed a payload but before it ran must give the payload
back, at the head of its mailbox, so the next receive gets it first.
"""

from __future__ import annotations

import asyncio

import pytest

from fast_channels.exceptions import LayerClosedError
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.layers._local import LocalCore


def _core() -> LocalCore:
    return LocalCore(expiry=60, group_expiry=60, capacity_for=lambda _: 10)


async def test_a_waiting_receiver_is_handed_the_payload() -> None:
    core = _core()
    loop = asyncio.get_running_loop()
    fut = core.take("c", loop)
    assert isinstance(fut, asyncio.Future)
    assert core.put_nowait("c", b"one")
    assert fut.done()
    handed = fut.result()
    assert handed is not None
    assert handed[1] == b"one"
    stats = core.statistics()
    assert (stats.received, stats.buffered, stats.waiting_receivers) == (1, 0, 0)


async def test_cancelled_after_hand_off_gives_the_payload_back_first() -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    waiter = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)  # the receiver now waits on its mailbox
    await layer.send(channel, {"type": "first"})  # handed to the waiter, which has not run
    waiter.cancel()
    await layer.send(channel, {"type": "second"})
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (await layer.receive(channel))["type"] == "first"
    assert (await layer.receive(channel))["type"] == "second"
    stats = layer.statistics()
    assert (stats.received, stats.buffered) == (2, 0)


async def test_cancelled_group_members_keep_their_message() -> None:
    layer = InMemoryChannelLayer()
    members = [await layer.new_channel() for _ in range(4)]
    for channel in members:
        await layer.group_add("room", channel)
    waiters = [asyncio.create_task(layer.receive(ch)) for ch in members]
    await asyncio.sleep(0)
    await layer.group_send("room", {"type": "news", "n": 1})
    for waiter in waiters[::2]:
        waiter.cancel()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [isinstance(r, asyncio.CancelledError) for r in results] == [True, False] * 2
    for channel in members[::2]:
        assert await asyncio.wait_for(layer.receive(channel), 1) == {"type": "news", "n": 1}
    # Each receiver got its own dict: changing one changes no other member's message.
    received = [r for r in results if isinstance(r, dict)]
    received[0]["n"] = 99
    assert received[1]["n"] == 1


async def test_abandon_keeps_fifo_behind_a_later_put() -> None:
    core = _core()
    loop = asyncio.get_running_loop()
    fut = core.take("c", loop)
    assert isinstance(fut, asyncio.Future)
    core.put_nowait("c", b"one")  # handed
    core.put_nowait("c", b"two")  # queued
    core.abandon("c", fut, loop)
    assert core.get_nowait("c") == b"one"
    assert core.get_nowait("c") == b"two"
    assert core.statistics().received == 2


async def test_abandon_of_an_unresolved_waiter_forgets_it() -> None:
    core = _core()
    loop = asyncio.get_running_loop()
    fut = core.take("c", loop)
    assert isinstance(fut, asyncio.Future)
    fut.cancel()
    core.abandon("c", fut, loop)
    stats = core.statistics()
    assert (stats.channels, stats.waiting_receivers) == (0, 0)
    assert core.put_nowait("c", b"later")
    assert core.get_nowait("c") == b"later"


async def test_a_closed_core_refuses_take_and_wakes_waiters() -> None:
    core = _core()
    loop = asyncio.get_running_loop()
    waiter = asyncio.create_task(core.get("c"))
    await asyncio.sleep(0)
    core.close()
    with pytest.raises(LayerClosedError):
        await asyncio.wait_for(waiter, 1)
    with pytest.raises(LayerClosedError):
        core.take("c", loop)


async def test_puts_from_another_thread_are_queued_not_handed() -> None:
    core = _core()
    waiter = asyncio.create_task(core.get("c"))
    await asyncio.sleep(0)
    # No running loop in that thread: the waiter is woken through its own loop instead.
    assert await asyncio.to_thread(core.put_nowait, "c", b"from-thread")
    assert await asyncio.wait_for(waiter, 1) == b"from-thread"


async def test_a_closed_core_keeps_nothing_put_into_it() -> None:
    """A reader still running as its layer closes (another loop's, say) puts into a closed
    core: nothing may stay there (no mailbox, no message) and nothing may raise."""
    core = LocalCore(expiry=60, group_expiry=60, capacity_for=lambda _: 10)
    core.group_add("g", "a")
    core.close()
    assert core.put_nowait("a", b"direct")
    assert core.put_many(["a", "b"], b"group") == ["a", "b"]
    assert core.fan_out("g", b"group") == (0, 0)
    stats = core.statistics()
    assert (stats.channels, stats.buffered, stats.groups) == (0, 0, 0)


async def test_closing_a_layer_with_messages_waiting_says_how_many_it_discards(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``aclose()`` discards what waits in local mailboxes: never without a trace."""
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    other = await layer.new_channel()
    for i in range(3):
        await layer.send(channel, {"type": "m", "i": i})
    await layer.send(other, {"type": "m"})
    assert (await layer.receive(channel))["i"] == 0
    with caplog.at_level("WARNING", logger="fast_channels.layers"):
        await layer.aclose()
    discarded = [r.getMessage() for r in caplog.records if "discarded" in r.getMessage()]
    assert len(discarded) == 1
    assert "3 message(s)" in discarded[0]


async def test_closing_a_layer_with_nothing_waiting_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "m"})
    await layer.receive(channel)
    with caplog.at_level("DEBUG", logger="fast_channels"):
        await layer.aclose()
    assert caplog.records == []
