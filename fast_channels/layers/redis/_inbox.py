"""The process inbox of the queue layer: one Redis list for every ``new_channel()`` channel.

Every channel a layer object makes with ``new_channel()`` is named
``<prefix><token>!<random>``; the *token* (random, per layer object and process) names one
Redis list, the inbox, that all of them share. Senders push one entry per message (a
``group_send`` pushes one entry per receiving process, naming its members). ONE reader
task per event loop pops entries in batches (``BLMPOP ... COUNT n``) and puts them into
the local mailboxes (:class:`~fast_channels.layers._local.LocalCore`), where ``receive()``
waits: no lock between receivers, no task per receiver or message.

Entry layout (bytes): 13-digit deadline in ms since the epoch, the channel (a ``send``) or
a comma and the comma-separated member channels (a ``group_send``), a NUL byte, the encoded
message. A group message is decoded once and the same dict goes into every member's mailbox
(``receive()`` hands out shallow copies). Entries past their deadline are dropped and
counted as expired; entries not in this layout are dropped, logged and counted as
undecodable (the reader carries on).

Capacity as the sender sees it: see :mod:`._acks` (what this process reports back after
handing messages out, and how group messages waiting in a mailbox are counted) and
:meth:`InboxReader.deliver` (group messages popped in one batch).

The reader survives Redis errors: it logs, backs off (up to ``BACKOFF_MAX``) and tries
again, so a restarted or failed-over Redis is picked up within about half a second of
answering again; ``receive()`` keeps waiting meanwhile. A popped batch is never lost to
a stalled event loop (:mod:`._pop`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from redis.exceptions import RedisError

from fast_channels.layers._local import LocalCore
from fast_channels.layers.base import logger
from fast_channels.layers.redis._acks import Acks
from fast_channels.layers.redis._connection import REDIS_ERRORS, RawPool
from fast_channels.layers.redis._pop import BlockingPop
from fast_channels.types import Message

__all__ = [
    "READ_ERRORS",
    "Backoff",
    "Commands",
    "InboxReader",
    "inbox_entry",
    "now_ms",
]

DEADLINE_DIGITS = 13
RECENT_GROUPS = 4
"""How many groups' member lists a reader keeps parsed (most recently seen first)."""
BACKOFF_MAX = 0.5
"""Longest pause between a reader's reconnection attempts (a refused connect costs ~nothing)."""
READ_ERRORS: tuple[type[BaseException], ...] = (*REDIS_ERRORS, RedisError)
"""What a reader survives (logged, then retried with backoff)."""


class Backoff:
    """A reader's retry policy after a Redis error: log (the first error, then every
    100th), sleep, double the pause up to ``BACKOFF_MAX``; :meth:`reset` on success."""

    __slots__ = ("delay", "errors", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self.delay = 0.05
        self.errors = 0

    async def after(self, exc: BaseException) -> None:
        """Count and log ``exc``, then wait before the next attempt."""
        self.errors += 1
        if self.errors == 1 or self.errors % 100 == 0:
            logger.warning(
                "%s: Redis error (%s: %s), retrying in %.2fs",
                self.what,
                type(exc).__name__,
                exc,
                self.delay,
            )
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, BACKOFF_MAX)

    def reset(self) -> None:
        """The last attempt worked: the next error waits the shortest pause again."""
        self.delay = 0.05


def now_ms() -> int:
    """Wall-clock milliseconds: deadlines are compared across processes."""
    return int(time.time() * 1000)


def inbox_entry(deadline_ms: int, channel: str, data: bytes) -> bytes:
    """The inbox entry carrying ``data`` for one process-local ``channel``."""
    return b"%013d%s\0%s" % (deadline_ms, channel.encode("utf-8"), data)


class Commands(Protocol):
    """The one redis-py client call the readers (and ``flush``) make."""

    async def execute_command(self, *args: str | bytes | int | float) -> object: ...


class InboxReader:
    """The task that drains one inbox into the local mailboxes, for one event loop.

    It pops with a :class:`~._pop.BlockingPop` (a connection of its own, blocked in
    ``BLMPOP`` most of the time; a popped reply is never thrown away with it). ``least``
    is the smallest capacity of any channel (see :meth:`deliver`).
    """

    def __init__(
        self,
        *,
        pool: RawPool,
        key: str,
        local: LocalCore,
        acks: Acks,
        report: Callable[[bool], None],
        decode: Callable[[str, bytes], Message | None],
        batch: int,
        block: float,
        timeout: float,
        least: int,
        reconcile_every: float,
    ) -> None:
        self._popper = BlockingPop(pool=pool, key=key, block=block, timeout=timeout)
        self._key = key
        self._local = local
        self._acks = acks
        self._report = report
        self._decode = decode
        self._batch = batch
        self._least = least
        self._reconcile_every = reconcile_every
        self.batches = 0
        self._recent: list[tuple[bytes, list[str]]] = []  # see _members
        self._backoff = Backoff(f"inbox reader for {key}")
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"fast-channels inbox {key}"
        )

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
        backoff, acks = self._backoff, self._acks
        next_reconcile = time.monotonic() + self._reconcile_every
        while True:
            try:
                entries = await self._popper.pop(self._batch)
            except READ_ERRORS as exc:
                await backoff.after(exc)
                continue
            backoff.reset()
            if entries:
                self.batches += 1
                self.deliver(entries)
            if acks.outstanding and time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + self._reconcile_every
                self._report(False)  # the report looks for expired messages (Acks.reconcile)
            elif acks.pending or acks.unsettled:
                self._report(False)

    def deliver(self, entries: list[bytes]) -> None:
        """Put each entry's message into its member channels' mailboxes.

        The entries of one batch were waiting in Redis together, so for a group message
        every earlier message of the batch to the same channel still holds its place,
        even one already handed to a receiver that was waiting: a member that got
        ``capacity`` messages from this batch is full for the rest of it, exactly as a
        sender would have found it. A batch no larger than ``least`` cannot fill any
        channel on its own, so only a larger one is counted.
        """
        local, acks = self._local, self._acks
        now = now_ms()
        counts: dict[str, int] | None = {} if len(entries) > self._least else None
        for entry in entries:
            try:
                sep = entry.index(b"\0", DEADLINE_DIGITS)
                deadline = int(entry[:DEADLINE_DIGITS])
                channel, members = "", None
                if entry[DEADLINE_DIGITS] == 44:  # b",": a group message
                    members = self._members(entry[DEADLINE_DIGITS + 1 : sep])
                else:
                    channel = entry[DEADLINE_DIGITS:sep].decode("utf-8")
                    if not channel:
                        raise ValueError("no channel")
            except ValueError:  # not written by this layer: never let it stop the reader
                local.counters.undecodable += 1
                logger.error("dropped a malformed entry of inbox %s: %r", self._key, entry[:40])
                continue
            if members is not None:
                self._deliver_group(members, entry[sep + 1 :], deadline <= now, counts)
            elif deadline <= now:
                local.counters.expired += 1
                acks.dropped(channel)
            else:
                # Redis admitted it against the channel's capacity when it was sent (the
                # sender saw no ChannelFull): a mailbox filled by group messages meanwhile
                # must not drop it. The mailbox is bounded by about 2x capacity.
                local.put_nowait(channel, entry[sep + 1 :], admitted=True)
                acks.queued(channel)
                if counts is not None:
                    counts[channel] = counts.get(channel, 0) + 1

    def _members(self, joined: bytes) -> list[str]:
        """The member channels named by a group entry (``b"a,b,c"``).

        A group's member list is the same in entry after entry, so the last few parsed
        lists are kept: comparing bytes costs far less than decoding and splitting them
        again into new strings for every message.
        """
        recent = self._recent
        for i, (known, members) in enumerate(recent):
            if known == joined:
                if i:
                    recent.insert(0, recent.pop(i))
                return members
        members = [member for member in joined.decode("utf-8").split(",") if member]
        if not members:
            raise ValueError("no member channel")
        recent.insert(0, (joined, members))
        del recent[RECENT_GROUPS:]
        return members

    def _deliver_group(
        self, members: list[str], data: bytes, expired: bool, counts: dict[str, int] | None
    ) -> None:
        """Put one group message (decoded once) into its members' mailboxes, skipping
        full ones (``counts``: the batch's messages so far per channel, see
        :meth:`deliver`)."""
        local = self._local
        if expired:
            local.counters.expired += len(members)
            return
        message = self._decode(members[0], data)
        if message is None:
            return
        if counts is None:
            accepted = local.put_many(members, message)
        else:
            capacity_for = local.capacity_for
            room = [m for m in members if counts.get(m, 0) < capacity_for(m)]
            accepted = local.put_many(room, message)
            for member in accepted:
                counts[member] = counts.get(member, 0) + 1
        self._acks.group_delivered(accepted)
        skipped = len(members) - len(accepted)
        if skipped:
            local.counters.group_skipped_full += skipped
            logger.warning("a group message skipped %d member(s) whose channel is full", skipped)
