"""How a queue layer finds out that a Redis server lost what this process keeps there.

A process keeps data in Redis that only it knows about: the group memberships it added,
its inbox and the per-channel counts next to it. A Redis restarted without persistence,
a ``FLUSHALL``, another process's ``flush()`` or a failover to a replica that was behind
takes them away, and nothing in Redis says so: ``group_send`` then reaches nobody and
returns normally.

So every process leaves a *marker* on each Redis server it keeps data on (key
``<prefix>:live:<token>``, one per layer object and process) before its first write
there, and renews it about once a second with a new value (:data:`MARK`, one ``SET ...
GET`` in a script, through the command pipe). A server that answers with anything but
the value this process left there lost the marker, and with it (the marker being the
first key written) possibly everything the process wrote after it: :class:`Marks`
reports that server, and the layer re-asserts its memberships and counts there and tells
its local receivers (:meth:`~fast_channels.layers.base.BaseChannelLayer._announce_resync`).

Why a marker rather than the server's ``run_id``: ``FLUSHALL`` and ``flush()`` keep the
``run_id``; a restart that reloads its data and a failover to a replica in sync change
it without losing anything. The marker changes exactly when the data is gone. What it
cannot see: a loss of some keys only (eviction under ``maxmemory``, a ``DEL``), and a
server restored from a snapshot taken within the last renewal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fast_channels.layers.redis._pipe import CommandPipe, Script

__all__ = ["MARK", "MARK_TTL", "Marks"]

MARK = Script.load("queue_mark")
"""Set the marker to a new value and return the old one."""
MARK_TTL = 600
"""Seconds a marker outlives its last renewal (a process gone leaves no key behind)."""


class Marks:
    """This process's markers on the Redis servers (shards) it keeps data on."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._count = 0
        self._epoch = 0
        # shard -> the values its marker may hold now; absent: not watched
        self._expect: dict[int, set[bytes | None]] = {}

    def watching(self, shard: int) -> bool:
        """Whether ``shard`` is watched (its marker was set)."""
        return shard in self._expect

    @property
    def shards(self) -> list[int]:
        """The watched shards."""
        return list(self._expect)

    def _next(self) -> bytes:
        self._count += 1
        return b"%d" % self._count

    def start(self, shard: int, pipe: CommandPipe) -> None:
        """Watch ``shard`` from now on: its marker is queued on ``pipe`` ahead of any
        command queued after this call (a membership added next is written after it)."""
        value = self._next()
        expect: set[bytes | None] = {value, None}  # None until the mark is known to be set
        self._expect[shard] = expect
        future = pipe.submit_script(MARK, (self.key,), (value, MARK_TTL))
        future.add_done_callback(lambda done: self._started(expect, done))

    @staticmethod
    def _started(expect: set[bytes | None], done: asyncio.Future[object]) -> None:
        if not done.cancelled() and done.exception() is None:
            expect.discard(None)

    async def check(self, pipes: Sequence[CommandPipe]) -> list[tuple[int, bytes]]:
        """Renew every watched marker; returns the shards whose marker was not what this
        process left there, each with the marker's new value for :meth:`confirm` once
        what was lost there is restored. A shard that cannot be reached is skipped."""
        epoch, shards = self._epoch, list(self._expect)
        values = [self._next() for _ in shards]
        replies = await asyncio.gather(
            *(
                pipes[shard].script(MARK, (self.key,), (value, MARK_TTL))
                for shard, value in zip(shards, values, strict=True)
            ),
            return_exceptions=True,
        )
        lost: list[tuple[int, bytes]] = []
        for shard, value, reply in zip(shards, values, replies, strict=True):
            if epoch != self._epoch or shard not in self._expect:
                continue  # this layer flushed meanwhile
            expect = self._expect[shard]
            if isinstance(reply, BaseException):
                expect.add(value)  # it may have been written
            elif reply in expect:
                self._expect[shard] = {value}
            else:
                self._expect[shard] = set()  # until confirmed: a lost shard stays lost
                lost.append((shard, value))
        return lost

    def confirm(self, shard: int, value: bytes) -> None:
        """What ``shard`` lost is restored: its marker holds ``value`` (from :meth:`check`)."""
        if self._expect.get(shard) == set():
            self._expect[shard] = {value}

    def flushed(self) -> None:
        """This layer deleted its own data (``flush()``), the markers with it, and that is
        no loss: no server is watched until this process keeps data there again (a check
        already under way is ignored)."""
        self._epoch += 1
        self._expect.clear()
