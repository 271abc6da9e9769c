"""What a receiving process owes the per-channel capacity counters of the queue layer.

The send script counts, per process-local channel, the direct messages (``send``) queued
and not yet handed to a receiver (hash ``n:<token>`` next to the inbox): that is the
channel's fill as every sender sees it. The receiving process lowers the counts for what
it hands out or drops, in batches (one script call per report):

* at once when a channel's unreported count reaches a quarter of its capacity,
* otherwise within ``REPORT_DELAY``, and before this process sends to that channel itself.

Between reports a counter is at most a quarter of the capacity too high: a sender may see
``ChannelFull`` a little early, never late.

Group messages cost nothing per member on their way: ``group_send`` does not count them in
Redis, and the receiving process checks each member's mailbox (a full one is skipped and
counted). When they pile up in a mailbox (a quarter of the capacity or more), the next
report raises the channel's counter by that many, so a ``send`` sees them too; it is
lowered again as they leave. Direct messages that expire in a mailbox are found by the
same pass (:meth:`Acks.settle`) and reported as dropped.

Within one batch the reader pops, group messages are counted as they arrive, so a member
receives at most ``capacity`` of them however fast its receiver takes them
(:meth:`~._inbox.InboxReader.deliver`). If Redis loses the counters, the process counts
what waits in its mailboxes again (:meth:`Acks.redis_lost`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fast_channels.layers._local import LocalCore

__all__ = ["REPORT_DELAY", "Acks", "Reporter"]

REPORT_DELAY = 0.1
"""Longest time (s) a count that is not urgent waits before it is reported to Redis."""


class Acks:
    """Per-channel counts this process owes the counters in Redis.

    ``outstanding``: direct messages put into a local mailbox and not yet handed out.
    ``pending``: per channel, how much its Redis counter is to go down (negative: up).
    ``raised``: per channel, how many group messages its Redis counter includes now.
    Zero counts are not kept.
    """

    __slots__ = ("_grouped", "outstanding", "pending", "raised")

    def __init__(self) -> None:
        self.outstanding: dict[str, int] = {}
        self.pending: dict[str, int] = {}
        self.raised: dict[str, int] = {}
        self._grouped: list[list[str]] = []

    def queued(self, channel: str) -> None:
        """One direct message for ``channel`` went into its local mailbox."""
        self.outstanding[channel] = self.outstanding.get(channel, 0) + 1

    def handed_out(self, channel: str) -> int:
        """A receiver took one direct message of ``channel``; returns what is now pending
        for the channel."""
        outstanding = self.outstanding
        left = outstanding.get(channel, 0) - 1
        if left > 0:
            outstanding[channel] = left
        else:
            outstanding.pop(channel, None)
        return self.dropped(channel)

    def dropped(self, channel: str, count: int = 1) -> int:
        """``count`` direct messages of ``channel`` left the system without a receiver;
        returns what is now pending for the channel."""
        pending = self.pending
        owed = pending.get(channel, 0) + count
        if owed:
            pending[channel] = owed
        else:
            del pending[channel]
        return owed

    def group_delivered(self, channels: list[str]) -> None:
        """One group message went into each of ``channels``' mailboxes (no count yet:
        :meth:`settle` looks at those mailboxes later)."""
        self._grouped.append(channels)

    @property
    def unsettled(self) -> bool:
        """Whether :meth:`settle` has mailboxes to look at."""
        return bool(self._grouped or self.raised)

    def settle(self, local: LocalCore, capacity_for: Callable[[str], int]) -> None:
        """Bring the counts of channels that got group messages (or have some counted)
        up to date with their mailboxes.

        Must not run while a message handed straight to a waiting receiver has not yet
        reached it (the mailbox no longer holds it, the receiver has not counted it): the
        layer runs it from a timer callback, after those receivers' wake-ups.
        """
        grouped, self._grouped = self._grouped, []
        channels = dict.fromkeys(self.raised)
        for members in grouped:
            channels.update(dict.fromkeys(members))
        for channel in channels:
            self._recount(channel, local, capacity_for(channel))

    def reconcile(self, local: LocalCore, capacity_for: Callable[[str], int]) -> None:
        """Find direct messages that expired in their mailbox (same rule as :meth:`settle`)."""
        for channel in list(self.outstanding):
            self._recount(channel, local, capacity_for(channel))

    def _recount(self, channel: str, local: LocalCore, capacity: int) -> None:
        waiting = local.pending(channel)
        direct = self.outstanding.get(channel, 0)
        if waiting < direct:  # direct messages expired in the mailbox
            self.dropped(channel, direct - waiting)
            if waiting:
                self.outstanding[channel] = waiting
            else:
                del self.outstanding[channel]
            direct = waiting
        group = waiting - direct
        target = group if group * 4 >= capacity else 0
        change = target - self.raised.get(channel, 0)
        if change:
            self.dropped(channel, -change)
            if target:
                self.raised[channel] = target
            else:
                del self.raised[channel]

    def take(self) -> list[str | int]:
        """The pending counts as script arguments (channel, count, ...), now reported."""
        flat: list[str | int] = []
        for channel, count in self.pending.items():
            flat += (channel, count)
        self.pending = {}
        return flat

    def give_back(self, flat: list[str | int]) -> None:
        """Counts from :meth:`take` that could not be reported; they are tried again."""
        for i in range(0, len(flat), 2):
            self.dropped(str(flat[i]), int(flat[i + 1]))

    def redis_lost(self) -> None:
        """Redis lost the counters (it came back empty): what is owed becomes what they
        must hold again, the messages waiting in local mailboxes (direct ones, and group
        ones counted). A message counted anew meanwhile may be counted twice until it is
        handed out: senders may see ``ChannelFull`` a little early, never late."""
        pending: dict[str, int] = {}
        for counts in (self.outstanding, self.raised):
            for channel, count in counts.items():
                pending[channel] = pending.get(channel, 0) - count
        self.pending = pending

    def clear(self) -> None:
        """Forget everything (the layer was flushed: the counters in Redis are gone)."""
        self.outstanding.clear()
        self.pending.clear()
        self.raised.clear()
        self._grouped.clear()


Submit = Callable[[list[str | int]], "asyncio.Future[object] | None"]
"""Queues the ack script with these arguments on the running loop's pipe (None: no pipe)."""


class Reporter:
    """When a layer's :class:`Acks` go to Redis: a timer per layer, on the loop that last
    asked (an urgent report runs in the current loop iteration)."""

    def __init__(
        self,
        *,
        local: LocalCore,
        capacity_for: Callable[[str], int],
        submit: Submit,
        reconcile_every: float,
    ) -> None:
        self.acks = Acks()
        self._local = local
        self._capacity_for = capacity_for
        self._submit = submit
        self._reconcile_every = reconcile_every
        self._next_reconcile = time.monotonic() + reconcile_every
        self._handle: asyncio.Handle | None = None
        self._urgent = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def handed_out(self, channel: str, capacity: Callable[[str], int], least: int) -> None:
        """A receiver took a direct message of ``channel``: count it, report in time
        (``least``: the smallest capacity of any channel, to skip looking up this one's)."""
        owed = self.acks.handed_out(channel) * 4
        urgent = owed >= least and owed >= capacity(channel)
        # A timer on a running loop fires there (no get_running_loop() per message: it
        # is a getpid() system call); one of a loop that stopped never will.
        if urgent or self._handle is None or self._loop is None or not self._loop.is_running():
            self.schedule(urgent)

    def schedule(self, urgent: bool) -> None:
        """Report soon: in this loop iteration if ``urgent``, else within REPORT_DELAY."""
        handle, loop = self._handle, asyncio.get_running_loop()
        if handle is not None and self._loop is loop and not handle.cancelled():
            if not urgent or self._urgent:
                return
            handle.cancel()
        self._loop = loop
        self._urgent = urgent
        if urgent:
            self._handle = loop.call_soon(self.report)
        else:
            self._handle = loop.call_later(REPORT_DELAY, self.report)

    def report(self) -> None:
        """Bring group messages and expired ones into the counts, then send them."""
        self._handle = None
        acks = self.acks
        if acks.unsettled:
            acks.settle(self._local, self._capacity_for)
        if acks.outstanding and time.monotonic() >= self._next_reconcile:
            self._next_reconcile = time.monotonic() + self._reconcile_every
            acks.reconcile(self._local, self._capacity_for)
        self.flush()
        if acks.raised:  # lowered again as those group messages leave their mailbox
            self.schedule(False)

    def flush(self) -> None:
        """Send the pending counts now (queued on the running loop's pipe)."""
        acks = self.acks
        if not acks.pending:
            return
        flat = acks.take()
        future = self._submit(flat)
        if future is None:  # the loop is shutting down: report from the next one
            acks.give_back(flat)
        else:
            future.add_done_callback(lambda f: self._done(f, flat))

    def _done(self, future: asyncio.Future[object], flat: list[str | int]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.acks.give_back(flat)
