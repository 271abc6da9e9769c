"""The turn a consumer's sources take to run handlers: one at a time, first come first served.

A consumer's client task and layer task each handle the events they receive, so they need
mutual exclusion; ``asyncio.Lock`` does that, but costs ~0.7 µs per free acquire once it
was ever contended (it scans its waiters each time). A consumer takes the turn once per
message, so this is a lock cut to what it needs: taking a free turn is a flag check.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Turn"]


class Turn:
    """Mutual exclusion between the tasks of one consumer, in one event loop.

    ``take_nowait()`` takes a free turn at once, without a task switch; ``take()`` waits
    for it. ``give()`` hands it to the longest waiter, directly, so no newcomer can take
    it in between (first come, first served). Cancelling ``take()`` is safe: a waiter
    cancelled after it was handed the turn passes it on.
    """

    __slots__ = ("_held", "_waiters")

    def __init__(self) -> None:
        self._held = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def held(self) -> bool:
        """Whether a task has the turn."""
        return self._held

    def take_nowait(self) -> bool:
        """Take the turn if it is free (then nobody waits for it); True if taken."""
        if self._held:
            return False
        self._held = True
        return True

    async def take(self) -> None:
        """Wait for the turn and take it."""
        if self.take_nowait():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give()  # it was handed to us just as we were cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        """Give the turn up: to the longest waiter if there is one, else free it.

        ``RuntimeError`` if the turn is not held.
        """
        if not self._held:
            raise RuntimeError("give() of a Turn that is not held: take it first")
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # handed over: the turn stays held
                return
        self._held = False
