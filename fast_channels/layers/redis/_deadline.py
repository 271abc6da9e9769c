"""A deadline that counts only time the event loop was running.

A client read timeout measured on the wall clock gives up on replies Redis has sent when
the event loop stalls (a handler that blocks, a long garbage collection): the reply arrives
during the stall, the deadline passes during the stall too, and when the loop runs again
the timeout fires before the reply is read. For a destructive command (``BLMPOP``) that
loses the entries popped; for any command it reports a failure for a command Redis ran, so
a caller's retry runs it twice. Both the blocking pops (:mod:`._pop`) and the command pipe
(:mod:`._pipe`) bound their round trips with a :class:`Deadline` instead.
"""

from __future__ import annotations

import asyncio

__all__ = ["STALL", "Deadline"]

STALL = 0.05
"""How late (s) a deadline's timer may run before the loop counts as having stalled."""


class Deadline:
    """Ends the ``async with asyncio.timeout(None)`` block ``scope`` after ``seconds`` of
    event-loop running time.

    Its timer firing more than :data:`STALL` late means the loop did not run around the
    deadline (it was blocked): what Redis sent meanwhile waits unread in the socket, so
    the deadline moves on by ``grace`` seconds instead of expiring. A deadline that comes
    due on time expires through ``scope.reschedule`` (a callback queued behind the ones
    already due), so a reply that arrived in the same loop iteration is still read first.
    """

    __slots__ = ("_due", "_grace", "_handle", "_loop", "_scope")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        scope: asyncio.Timeout,
        seconds: float,
        grace: float,
    ) -> None:
        self._loop = loop
        self._scope = scope
        self._grace = grace
        self._due = loop.time() + seconds
        self._handle = loop.call_at(self._due, self._expire)

    def _expire(self) -> None:
        now = self._loop.time()
        if now - self._due > STALL:
            self._due = now + self._grace
            self._handle = self._loop.call_at(self._due, self._expire)
        else:
            self._scope.reschedule(now)

    def cancel(self) -> None:
        """The read ended: the deadline no longer applies."""
        self._handle.cancel()
