"""The in-memory layer's group history: a ring of recent messages per group, in the layer object.

Each ring holds at most ``history_size`` messages (the oldest drop out as new ones come)
and none older than ``history_ttl`` seconds by the process's monotonic clock. Its epoch is
random, made with the ring: a new layer, ``flush()``, or a group idle for ``group_expiry``
seconds (its ring forgotten) begin a new one. Recording a message and delivering it happen
in one synchronous step, so members receive kept messages in offset order.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque

from fast_channels.layers._local import LocalCore
from fast_channels.layers._shared import share
from fast_channels.layers.base import logger
from fast_channels.layers.group_options import GroupOptions
from fast_channels.layers.history import POSITION_KEY, Kept, MessagePosition, Position
from fast_channels.serialization import Serializer

__all__ = ["MemoryHistory"]


class _Ring:
    __slots__ = ("entries", "epoch", "last", "used")

    def __init__(self, size: int, now: float) -> None:
        self.epoch = secrets.token_hex(8)
        self.last = 0
        self.entries: deque[tuple[float, bytes]] = deque(maxlen=size)
        self.used = now

    def trim(self, ttl: float, now: float) -> None:
        entries = self.entries
        while entries and entries[0][0] <= now - ttl:
            entries.popleft()


class MemoryHistory:
    """The rings of one in-memory layer (a :class:`~fast_channels.layers.history.HistoryStore`)."""

    def __init__(self, *, local: LocalCore, serializer: Serializer, idle: float) -> None:
        self._local = local
        self._serializer = serializer
        self._idle = idle
        self._rings: dict[str, _Ring] = {}
        self._next_sweep = time.monotonic() + idle

    def _ring(self, group: str, options: GroupOptions, now: float) -> _Ring:
        ring = self._rings.get(group)
        if ring is None:
            if now >= self._next_sweep:
                self._sweep(now)
            ring = self._rings[group] = _Ring(options.history_size, now)
        ring.trim(options.history_ttl, now)
        ring.used = now
        return ring

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._idle
        for group in [g for g, ring in self._rings.items() if ring.used <= now - self._idle]:
            del self._rings[group]

    async def send(self, group: str, data: bytes, options: GroupOptions) -> None:
        """Keep ``data`` as the group's next message and put it, decoded once with its
        position, into every local member's mailbox (full ones are skipped and counted)."""
        now = time.monotonic()
        ring = self._ring(group, options, now)
        ring.last += 1
        ring.entries.append((now, data))
        message = self._serializer.loads(data)
        message[POSITION_KEY] = MessagePosition(group, ring.epoch, ring.last)
        self._local.counters.group_sends += 1
        _, skipped = self._local.fan_out(group, share(message))
        if skipped:
            logger.warning(
                "group_send to %r skipped %d member(s) whose channel is full", group, skipped
            )

    async def read(self, group: str, since: Position | None, options: GroupOptions) -> Kept:
        """The kept messages after ``since`` (all, for None)."""
        ring = self._ring(group, options, time.monotonic())
        entries = ring.entries
        if since is None:
            return Kept(ring.epoch, ring.last, [data for _, data in entries])
        missed = ring.last - since.offset
        if since.epoch != ring.epoch or missed < 0 or missed > len(entries):
            return Kept(ring.epoch, ring.last, None)
        tail = itertools.islice(entries, len(entries) - missed, None)
        return Kept(ring.epoch, ring.last, [data for _, data in tail])

    async def position(self, group: str, options: GroupOptions) -> Position:
        """Where the group's history ends."""
        ring = self._ring(group, options, time.monotonic())
        return Position(ring.epoch, ring.last)

    async def clear(self) -> None:
        """Forget every ring: the next message of each group begins a new epoch."""
        self._rings.clear()
