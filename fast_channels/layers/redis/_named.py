"""Receiving from a named channel (e.g. ``"thumbnails"``) that worker processes share.

A named channel is one Redis list. Each message reaches exactly one receiver, in whichever
process pops it. In a process, one :class:`NamedReader` task per channel and event loop
pops for the ``receive()`` calls waiting there, never more: it asks for as many messages as
there are receivers waiting without a message, and if receivers left (were cancelled) while
it waited, it pushes the surplus back to the head of the list, so no other process is
starved and nothing is lost. The task ends when no receiver waits. It pops on a connection
of its own while it runs (:class:`~._pop.BlockingPop`), so a popped reply is never lost to
a stalled event loop.
"""

from __future__ import annotations

import asyncio

from fast_channels.layers._local import LocalCore
from fast_channels.layers.base import logger
from fast_channels.layers.redis._connection import RawPool
from fast_channels.layers.redis._inbox import DEADLINE_DIGITS, READ_ERRORS, Backoff, now_ms
from fast_channels.layers.redis._pop import BlockingPop

__all__ = ["NamedReader"]


class NamedReader:
    """Pops a named channel's list for the receivers waiting on it in one event loop."""

    def __init__(
        self,
        *,
        pool: RawPool,
        key: str,
        channel: str,
        local: LocalCore,
        block: float,
        timeout: float,
    ) -> None:
        self._popper = BlockingPop(pool=pool, key=key, block=block, timeout=timeout)
        self._key = key
        self._channel = channel
        self._local = local
        self.waiting = 0
        self._backoff = Backoff(f"reader for channel {channel!r}")
        self._changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def enter(self) -> None:
        """A receiver starts waiting (starts the task if it is not running)."""
        self.waiting += 1
        self._changed.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(
                self._run(), name=f"fast-channels reader {self._key}"
            )

    def leave(self) -> None:
        """A receiver got its message, or was cancelled."""
        self.waiting -= 1
        self._changed.set()

    def _wanted(self) -> int:
        return self.waiting - self._local.pending(self._channel)

    @property
    def errors(self) -> int:
        """Redis errors this reader survived."""
        return self._backoff.errors

    async def _run(self) -> None:
        try:
            await self._read()
        finally:
            await self._popper.release()

    async def _read(self) -> None:
        backoff = self._backoff
        while True:
            wanted = self._wanted()
            if wanted <= 0:
                if self.waiting <= 0:
                    return
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                entries = await self._popper.pop(wanted)
                if entries:
                    await self._deliver(entries)
            except READ_ERRORS as exc:
                await backoff.after(exc)
                continue
            backoff.reset()

    async def _deliver(self, entries: list[bytes]) -> None:
        now = now_ms()
        room = self._wanted()
        surplus: list[bytes] = []
        for entry in entries:
            try:
                deadline = int(entry[:DEADLINE_DIGITS])
            except ValueError:  # not written by this layer: never let it stop the reader
                self._local.counters.undecodable += 1
                logger.error(
                    "dropped a malformed entry of channel %r: %r", self._channel, entry[:40]
                )
                continue
            if deadline <= now:
                self._local.counters.expired += 1
            elif room > 0 and self._local.put_nowait(
                self._channel, entry[DEADLINE_DIGITS:], hand=False
            ):
                room -= 1
            else:
                surplus.append(entry)
        if surplus:
            try:
                await self._popper.push_back(surplus)
            except BaseException:
                logger.error(
                    "lost %d message(s) of channel %r: could not return them to Redis",
                    len(surplus),
                    self._channel,
                )
                raise
