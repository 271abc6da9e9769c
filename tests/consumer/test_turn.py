"""Turn: the consumer's lock between its sources — free takes, FIFO hand-over, cancel-safe."""

from __future__ import annotations

import asyncio

import pytest

from fast_channels.consumer._turn import Turn


async def test_a_free_turn_is_taken_at_once_and_a_held_one_is_refused() -> None:
    turn = Turn()
    assert turn.take_nowait()
    assert turn.held
    assert not turn.take_nowait()
    turn.give()
    assert not turn.held
    await turn.take()
    assert turn.held


async def test_waiters_get_the_turn_first_come_first_served_with_no_barging() -> None:
    turn = Turn()
    order: list[str] = []

    async def use(name: str) -> None:
        await turn.take()
        order.append(name)
        await asyncio.sleep(0)
        turn.give()

    turn.take_nowait()
    waiters = [asyncio.create_task(use(name)) for name in "abc"]
    await asyncio.sleep(0)
    turn.give()  # handed to "a": a newcomer cannot take it in between
    assert turn.held
    assert not turn.take_nowait()
    await asyncio.gather(*waiters)
    assert order == ["a", "b", "c"]
    assert not turn.held


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    turn = Turn()
    turn.take_nowait()
    waiter = asyncio.create_task(turn.take())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    turn.give()
    assert not turn.held


async def test_a_waiter_cancelled_as_it_is_handed_the_turn_passes_it_on() -> None:
    turn = Turn()
    turn.take_nowait()
    first = asyncio.create_task(turn.take())
    second = asyncio.create_task(turn.take())
    await asyncio.sleep(0)
    turn.give()  # to first, which is cancelled before it runs
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await second
    assert turn.held
    turn.give()
    assert not turn.held


def test_giving_a_turn_not_held_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not held: take it first"):
        Turn().give()
