"""Acknowledgements from the receiving side, and the sender's window over them.

A receiver *completes* a message when every member it was sent to has it. It reports the
number completed per phase; the sender keeps at most ``window`` messages outstanding, so
no layer is driven past its capacity and a backlog never hides in Redis. With window 1
the sender waits for each message before the next: unloaded latency.

In one process the counts are shared directly; across processes they travel over a
``multiprocessing`` pipe, coalesced to one write per event-loop turn.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import defaultdict
from multiprocessing.connection import Connection

__all__ = ["AckReader", "AckWriter", "Acks", "PipeAckReader", "PipeAckWriter", "Window"]

_RECORD = struct.Struct("!II")


class Acks:
    """Completed-message counts per phase, with a way to wait for them to move."""

    def __init__(self) -> None:
        self.counts: defaultdict[int, int] = defaultdict(int)
        self._changed = asyncio.Event()

    def update(self, phase: int, count: int) -> None:
        if count > self.counts[phase]:
            self.counts[phase] = count
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_change(self, seconds: float) -> bool:
        """Wait for any count to change; False after ``seconds`` without one."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        return True


class AckWriter:
    """Receiver side, one process: counts go straight into the sender's :class:`Acks`."""

    def __init__(self, acks: Acks) -> None:
        self.acks = acks

    def completed(self, phase: int, count: int) -> None:
        self.acks.update(phase, count)

    def close(self) -> None:
        return None


class PipeAckWriter(AckWriter):
    """Receiver side, other process: writes the latest counts once per loop turn."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(Acks())
        self.conn = conn
        self._dirty: dict[int, int] = {}
        self._scheduled = False

    def completed(self, phase: int, count: int) -> None:
        self._dirty[phase] = count
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, {}
        for phase, count in dirty.items():
            self.conn.send_bytes(_RECORD.pack(phase, count))


class AckReader:
    """Sender side: the :class:`Acks` to wait on."""

    def __init__(self, acks: Acks | None = None) -> None:
        self.acks = acks if acks is not None else Acks()

    def close(self) -> None:
        return None


class PipeAckReader(AckReader):
    """Sender side, other process: reads the pipe from the event loop (no thread)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self.conn = conn
        while conn.poll():
            conn.recv_bytes()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(conn.fileno(), self._readable)

    def _readable(self) -> None:
        while self.conn.poll():
            phase, count = _RECORD.unpack(self.conn.recv_bytes())
            self.acks.update(phase, count)

    def close(self) -> None:
        self._loop.remove_reader(self.conn.fileno())


class Window:
    """At most ``size`` messages of ``phase`` sent and not yet completed."""

    def __init__(self, acks: Acks, phase: int, size: int, stall: float) -> None:
        self.acks = acks
        self.phase = phase
        self.size = size
        self.stall = stall
        self.sent = 0
        self.stalled = False

    async def acquire(self) -> bool:
        """Wait for room; False if nothing completed for ``stall`` seconds."""
        while self.sent - self.acks.counts[self.phase] >= self.size:
            if self.stalled or not await self.acks.wait_change(self.stall):
                self.stalled = True
                return False
        return True

    async def drain(self, seconds: float) -> int:
        """Wait until every sent message completed; returns how many never did."""
        deadline = time.monotonic() + seconds
        while self.acks.counts[self.phase] < self.sent:
            remaining = min(deadline - time.monotonic(), self.stall)
            if remaining <= 0 or not await self.acks.wait_change(remaining):
                break
        return max(0, self.sent - self.acks.counts[self.phase])
