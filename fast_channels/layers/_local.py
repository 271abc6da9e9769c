"""The process-local core every layer shares: mailboxes, local groups, counters.

A *mailbox* is the bounded FIFO of one channel in this process, plus the receivers waiting
on it. The in-memory layer is this core and nothing else; the Redis layers feed it from
their reader tasks and use its groups for local fan-out.

Hand-off: a put into an empty mailbox with a receiver waiting on the same event loop gives
the payload straight to that receiver's future; otherwise it appends to the mailbox and
wakes one waiter, which takes the head itself.

Cancel safety: a receiver cancelled after a payload was handed to it puts the payload
back at the head of its mailbox (with its deadline) and wakes the next waiter; one
cancelled after a plain wake-up passes the wake-up on. So cancelling ``get()`` never loses
a message. A handed payload counts as received at once: what that means in the instant
between hand-off and cancel is in docs/layers.md ("Cancellation").

Thread safety: a put may come from another thread's event loop (the sync API runs one).
Every change to mailboxes and groups happens under one lock, held only around synchronous
sections; waiters of another loop are woken through that loop's ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import fields

from fast_channels.exceptions import LayerClosedError
from fast_channels.layers._groups import LocalGroups
from fast_channels.layers.overflow import OverflowPolicy
from fast_channels.layers.statistics import Counters, LayerStatistics
from fast_channels.types import Message

__all__ = ["LocalCore", "Payload"]

logger = logging.getLogger("fast_channels.layers")

Payload = bytes | Message
"""What a mailbox holds: encoded bytes, or a message decoded once for many receivers."""


_Loop = asyncio.AbstractEventLoop | None
_Waiter = asyncio.Future[tuple[float, Payload] | None]
"""A waiting ``get()``: resolved with its payload (hand-off) or None (look again)."""


class _Mailbox:
    __slots__ = ("capacity", "items", "waiters")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity  # the channel's, looked up once
        self.items: deque[tuple[float, Payload]] = deque()
        self.waiters: deque[_Waiter] = deque()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _resolve(fut: _Waiter) -> None:
    if not fut.done():
        fut.set_result(None)


class LocalCore:
    """Mailboxes and groups of one layer in one process."""

    def __init__(
        self,
        *,
        expiry: float,
        group_expiry: float,
        capacity_for: Callable[[str], int],
        overflow: OverflowPolicy = OverflowPolicy.REJECT,
    ) -> None:
        self.expiry = expiry
        self.group_expiry = group_expiry
        self.capacity_for = capacity_for
        self.overflow = overflow
        self.counters: Counters = Counters()
        self._boxes: dict[str, _Mailbox] = {}
        self.groups: LocalGroups = LocalGroups(group_expiry)  # under self._lock, as mailboxes
        self._closed = False
        self._next_sweep = time.monotonic() + expiry
        # Held only around synchronous sections (never across an await): puts may come
        # from the sync API's loop thread while this loop's receivers take messages.
        self._lock = threading.Lock()

    # -- mailboxes -------------------------------------------------------------------

    def put_nowait(
        self, channel: str, payload: Payload, *, admitted: bool = False, hand: bool = True
    ) -> bool:
        """Queue ``payload`` for ``channel``; False if refused by a full mailbox (REJECT).

        ``admitted``: the backend already enforced the channel's capacity for this message
        (e.g. in Redis, as the sender saw it), so the local capacity check must not drop it.
        ``hand=False``: never hand it straight to a waiting receiver (for a backend that
        counts its waiting receivers until they return, e.g. a named-channel reader).
        """
        now = time.monotonic()
        running = _running_loop()
        with self._lock:
            if self._closed:  # a reader still running as its layer closes: keep nothing
                return True
            if now >= self._next_sweep:
                self._sweep(now)
            return self._put(channel, payload, now, running, admitted, hand)

    def _put(
        self,
        channel: str,
        payload: Payload,
        now: float,
        running: _Loop,
        admitted: bool = False,
        hand: bool = True,
    ) -> bool:
        box = self._boxes.get(channel)
        if box is None:
            box = self._boxes[channel] = _Mailbox(self.capacity_for(channel))
        items = box.items
        waiters = box.waiters
        if waiters and not items and hand:
            # Hand-off to a receiver waiting on this loop (another thread's loop: queue it
            # and wake that loop). Runs once per delivery, so it is inline.
            while waiters and waiters[0].done():  # cancelled receivers
                waiters.popleft()
            if waiters and waiters[0].get_loop() is running:
                waiters.popleft().set_result((now + self.expiry, payload))
                self.counters.received += 1
                return True
        if not admitted and len(items) >= box.capacity:
            self._drop_expired(box, now)
            if len(items) >= box.capacity:
                if self.overflow is OverflowPolicy.REJECT:
                    return False
                self.counters.dropped_overflow += 1
                if self.overflow is OverflowPolicy.DROP_NEWEST:
                    return True
                items.popleft()
        items.append((now + self.expiry, payload))
        if box.waiters:
            self._wake_one(box, running)
        return True

    def put_many(
        self, channels: Collection[str], payload: Payload, *, admitted: bool = False
    ) -> list[str]:
        """Queue ``payload`` for each of ``channels``; returns those that accepted it.

        One clock read, one loop lookup and one lock acquisition serve every channel.
        """
        now = time.monotonic()
        running = _running_loop()
        with self._lock:
            if self._closed:
                return list(channels)
            if now >= self._next_sweep:
                self._sweep(now)
            return self._put_each(channels, payload, now, running, admitted)

    def _put_each(
        self, channels: Iterable[str], payload: Payload, now: float, running: _Loop, admitted: bool
    ) -> list[str]:
        # Once per member of a group message, so the two common cases are inline: a
        # receiver waiting on this loop (hand-off), or a mailbox with room and no waiter.
        item = (now + self.expiry, payload)
        boxes, accepted, handed = self._boxes, list[str](), 0
        for channel in channels:
            box = boxes.get(channel)
            if box is not None:
                items, waiters = box.items, box.waiters
                if not items:
                    if waiters and (fut := waiters[0]).get_loop() is running and not fut.done():
                        waiters.popleft().set_result(item)
                        handed += 1
                        accepted.append(channel)
                        continue
                elif not waiters and len(items) < box.capacity:
                    items.append(item)
                    accepted.append(channel)
                    continue
            if self._put(channel, payload, now, running, admitted):
                accepted.append(channel)
        self.counters.received += handed
        return accepted

    def pending(self, channel: str) -> int:
        """How many unexpired messages wait in ``channel``'s mailbox (expired ones are
        dropped and counted now)."""
        with self._lock:
            box = self._boxes.get(channel)
            if box is None:
                return 0
            self._drop_expired(box, time.monotonic())
            return len(box.items)

    def get_nowait(self, channel: str) -> Payload | None:
        """The oldest unexpired payload of ``channel``, or None when there is none.

        Needs no event loop: ``receive`` tries it before it looks its loop up.
        """
        lock = self._lock
        lock.acquire()  # not `with`: this runs for most delivered messages
        try:
            box = self._boxes.get(channel)
            if box is None or not box.items:
                return None
            payload = self._pop(box, time.monotonic())
            if payload is not None and box.items and box.waiters:
                self._wake_one(box, _running_loop())
            return payload
        finally:
            lock.release()

    async def get(self, channel: str) -> Payload:
        """Wait for the oldest unexpired payload of ``channel``; cancel-safe."""
        loop = asyncio.get_running_loop()
        while True:
            got = self.take(channel, loop)
            if not isinstance(got, asyncio.Future):
                return got
            try:
                handed = await got
            except asyncio.CancelledError:
                self.abandon(channel, got, loop)
                raise
            if handed is not None:
                return handed[1]

    def take(self, channel: str, loop: asyncio.AbstractEventLoop) -> Payload | _Waiter:
        """The oldest unexpired payload of ``channel``, or a future (of ``loop``, the running
        loop) that resolves with ``(deadline, payload)`` handed over, or with None: look
        again. Cancelled while awaiting it, call :meth:`abandon`. :meth:`get` is this loop;
        ``receive`` runs it inline (one coroutine frame less per message)."""
        lock = self._lock
        lock.acquire()
        try:
            if self._closed:
                raise LayerClosedError("the channel layer is closed; create a new one")
            box = self._boxes.get(channel)
            if box is None:
                box = self._boxes[channel] = _Mailbox(self.capacity_for(channel))
            elif box.items:
                payload = self._pop(box, time.monotonic())
                if payload is not None:
                    if box.items and box.waiters:
                        self._wake_one(box, loop)
                    return payload
            fut: _Waiter = loop.create_future()
            box.waiters.append(fut)
            return fut
        finally:
            lock.release()

    def abandon(self, channel: str, fut: _Waiter, loop: asyncio.AbstractEventLoop) -> None:
        """The receiver awaiting ``fut`` (from :meth:`take`) was cancelled: give back the
        payload it was handed, or pass its wake-up on, so that no message is lost."""
        with self._lock:
            box = self._boxes.get(channel)
            if box is not None and fut in box.waiters:
                box.waiters.remove(fut)
            elif fut.done() and not fut.cancelled() and (handed := fut.result()) is not None:
                self.counters.received -= 1
                if self._closed:
                    return
                if box is None:
                    box = self._boxes[channel] = _Mailbox(self.capacity_for(channel))
                box.items.appendleft(handed)  # with its own deadline
                if box.waiters:
                    self._wake_one(box, loop)
                return
            elif box is not None and box.items:
                self._wake_one(box, loop)
            if box is not None:
                self._forget_if_idle(channel, box)

    def _pop(self, box: _Mailbox, now: float) -> Payload | None:
        items = box.items
        while items:
            deadline, payload = items.popleft()
            if deadline > now:
                self.counters.received += 1
                return payload
            self.counters.expired += 1
        return None

    def _drop_expired(self, box: _Mailbox, now: float) -> None:
        items = box.items
        while items and items[0][0] <= now:
            items.popleft()
            self.counters.expired += 1

    def _wake_one(self, box: _Mailbox, running: asyncio.AbstractEventLoop | None) -> None:
        """Wake the first live waiter; ``running`` is the caller's loop (None: no loop)."""
        waiters = box.waiters
        while waiters:
            fut = waiters.popleft()
            if fut.done():
                continue
            loop = fut.get_loop()
            if loop is running:
                fut.set_result(None)
            elif loop.is_closed():
                continue
            else:
                loop.call_soon_threadsafe(_resolve, fut)
            return

    def _forget_if_idle(self, channel: str, box: _Mailbox) -> None:
        if not box.items and not box.waiters and self._boxes.get(channel) is box:
            del self._boxes[channel]

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + max(self.expiry, 1.0)
        for channel, box in list(self._boxes.items()):
            self._drop_expired(box, now)
            self._forget_if_idle(channel, box)
        self.groups.sweep(now)

    def notify(self, message: Message, channels: Iterable[str] | None = None) -> int:
        """Queue ``message`` (a notice from the layer itself, e.g. a resync) for every one of
        ``channels`` (None: every channel this process has a mailbox or a membership for),
        whatever their capacity; returns how many got it.

        A notice is never refused for capacity: it says that messages may be missing, so
        dropping it would be a silent loss of its own.
        """
        now = time.monotonic()
        running = _running_loop()
        with self._lock:
            if self._closed:
                return 0
            if channels is None:
                targets: set[str] = set(self._boxes)
                targets.update(self.groups.channels())
            else:
                targets = set(channels)
            for channel in targets:
                self._put(channel, message, now, running, admitted=True)
        return len(targets)

    # -- groups ----------------------------------------------------------------------

    def group_add(self, group: str, channel: str) -> bool:
        """Add (or refresh) a membership; True if the group had no member before."""
        with self._lock:
            return self.groups.add(group, channel, time.monotonic())

    def group_discard(self, group: str, channel: str) -> bool:
        """Remove a membership; True if the group has no member left."""
        with self._lock:
            return self.groups.discard(group, channel)

    def group_channels(self, group: str, now: float | None = None) -> list[str]:
        """The unexpired members of ``group`` in this process."""
        with self._lock:
            return list(self.groups.members(group, time.monotonic() if now is None else now))

    def group_names(self) -> list[str]:
        """Every group with a local member."""
        with self._lock:
            return self.groups.names()

    def memberships(self) -> list[tuple[str, str, float]]:
        """Every unexpired membership here: (group, channel, seconds until it ends)."""
        now = time.monotonic()
        with self._lock:
            return [
                (group, channel, deadline - now)
                for group in self.groups.names()
                for channel, deadline in self.groups.members(group, now).items()
            ]

    def channels(self) -> list[str]:
        """Every channel with a mailbox here (messages or receivers waiting, or lately)."""
        with self._lock:
            return list(self._boxes)

    def fan_out(self, group: str, payload: Payload) -> tuple[int, int]:
        """Put ``payload`` into every member's mailbox; returns (delivered, skipped full).

        One clock read, one loop lookup and one lock acquisition serve every member.
        """
        now = time.monotonic()
        running = _running_loop()
        with self._lock:
            members = self.groups.members(group, now)
            if not members:
                return 0, 0
            if now >= self._next_sweep:
                self._sweep(now)
            delivered = len(self._put_each(members, payload, now, running, False))
            skipped = len(members) - delivered
            self.counters.group_skipped_full += skipped
        return delivered, skipped

    # -- lifecycle -------------------------------------------------------------------

    def flush(self) -> None:
        """Delete every queued message and membership; waiting receivers keep waiting."""
        with self._lock:
            for box in self._boxes.values():
                box.items.clear()
            self._boxes = {ch: box for ch, box in self._boxes.items() if box.waiters}
            self.groups.clear()

    def close(self) -> None:
        """Refuse further gets, keep nothing put from now on, wake every waiting receiver
        (``LayerClosedError``). Messages still waiting in mailboxes are discarded: how many
        (unexpired ones; expired ones are counted as such) is logged as a warning."""
        now = time.monotonic()
        with self._lock:
            self._closed = True
            for box in self._boxes.values():
                self._drop_expired(box, now)
            discarded = sum(len(box.items) for box in self._boxes.values())
            for box in self._boxes.values():
                while box.waiters:
                    fut = box.waiters.popleft()
                    if not fut.done() and not fut.get_loop().is_closed():
                        fut.get_loop().call_soon_threadsafe(_resolve, fut)
            self._boxes.clear()
            self.groups.clear()
        if discarded:
            logger.warning(
                "the channel layer was closed with %d message(s) waiting in local mailboxes; "
                "they are discarded (receive them before aclose() to keep them)",
                discarded,
            )

    def statistics(
        self, extra: dict[str, int] | None = None, gauges: dict[str, int] | None = None
    ) -> LayerStatistics:
        """A snapshot of the counters and current sizes (``extra``: a backend's counters,
        ``gauges``: its current sizes)."""
        counters = {f.name: getattr(self.counters, f.name) for f in fields(self.counters)}
        return LayerStatistics(
            channels=len(self._boxes),
            groups=len(self.groups),
            buffered=sum(len(b.items) for b in self._boxes.values()),
            waiting_receivers=sum(len(b.waiters) for b in self._boxes.values()),
            extra=dict(extra or {}),
            gauges=dict(gauges or {}),
            **counters,
        )
