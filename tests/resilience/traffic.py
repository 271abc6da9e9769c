"""Traffic between separate OS processes, and the accounting of every message.

A *receiver* process makes two channels with ``new_channel()``, puts both into a group of
its own (``grp-<index>``) and receives on both until told to stop, recording every
delivery. A *sender* process alternates ``send`` to each receiver's first channel and
``group_send`` to its group (two deliveries, one per member), at a steady pace, and
records each outcome:

* ``ok``: the call returned and the layer reported nothing: every delivery is due;
* ``failed``: the call raised ``LayerConnectionError`` (Redis unreachable);
* ``unheard``: pub/sub only, the layer counted the message as published to no subscriber
  (``statistics().extra["published_unheard"]``);
* ``skipped``: a full member was skipped (``statistics().group_skipped_full``).

Every outcome but ``ok`` is the layer reporting to its sender that (some of) the message
did not go through. A receiver may be told instead: a ``layer.reconnected`` notice on a
channel says that messages to it may have been lost (pub/sub: its subscriber connection
broke), so a delivery missing where such a notice stands in that channel's sequence was
reported to its receiver. :func:`account` checks that every delivery is received or
reported.

When told to stop, the sender ends with *fences*: a ``fence`` message sent to each
receiver's first channel and one sent to its group, retried until the layer takes them.
A receiver counts the fences it gets (:data:`FENCES` per receiver): messages of one path
arrive in order, so once every fence is in, everything sent before it has arrived or was
lost, and the receivers can stop, however loaded the machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.synchronize import Event
from typing import Any, Protocol

from fast_channels.exceptions import ChannelFull, LayerConnectionError
from fast_channels.layers.base import RESYNC_MESSAGE_TYPE, BaseChannelLayer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer

Delivery = tuple[str, int]
"""(receiving channel, message id)."""
FENCES = 3
"""Fences a receiver gets: the direct one on its first channel, the group's on both."""
FENCE_WAIT = 30.0
"""Seconds the sender keeps retrying a fence the layer refuses (Redis still down)."""
Outcome = tuple[int, str, str, float]
"""(message id, "send" or "group", outcome, wall-clock time the call returned)."""


class SharedFloat(Protocol):
    """A ``multiprocessing.Value("d")``: a float shared between processes."""

    value: float


class ResultQueue(Protocol):
    """The ``put`` side of a ``multiprocessing.Queue``."""

    def put(self, obj: Any, /) -> None: ...


def build_layer(kind: str, options: Mapping[str, Any]) -> BaseChannelLayer:
    """A ``"queue"`` or ``"pubsub"`` Redis layer with ``options``."""
    if kind == "queue":
        return RedisChannelLayer(**options)
    if kind == "pubsub":
        return RedisPubSubChannelLayer(**options)
    raise ValueError(f"unknown layer kind {kind!r}")


@dataclass(frozen=True)
class Target:
    """One receiver process as the sender sees it."""

    channel: str
    second: str
    group: str


@dataclass
class ReceiverReport:
    index: int
    received: list[tuple[str, int, float]] = field(default_factory=list[tuple[str, int, float]])
    """(channel, message id, wall-clock time received)."""
    notices: list[tuple[str, int]] = field(default_factory=list[tuple[str, int]])
    """(channel, messages received on it before) for every resync notice."""
    statistics: dict[str, int] = field(default_factory=dict[str, int])


@dataclass
class SenderReport:
    outcomes: list[Outcome] = field(default_factory=list[Outcome])
    failed_call_seconds: list[float] = field(default_factory=list[float])
    """How long each call that raised ``LayerConnectionError`` took to raise."""
    unexpected: list[str] = field(default_factory=list[str])
    """Any other exception (there must be none)."""


def receiver_main(
    kind: str,
    options: dict[str, Any],
    index: int,
    ready: ResultQueue,
    results: ResultQueue,
    stop: Event,
    last_seen: SharedFloat,
    fences: SharedFloat,
) -> None:
    """Receive on two channels of group ``grp-<index>`` until ``stop`` is set."""
    asyncio.run(_receive(kind, options, index, ready, results, stop, last_seen, fences))


async def _receive(
    kind: str,
    options: dict[str, Any],
    index: int,
    ready: ResultQueue,
    results: ResultQueue,
    stop: Event,
    last_seen: SharedFloat,
    fences: SharedFloat,
) -> None:
    report = ReceiverReport(index)
    async with build_layer(kind, options) as layer:
        channel = await layer.new_channel()
        second = await layer.new_channel()
        group = f"grp-{index}"
        await layer.group_add(group, channel)
        await layer.group_add(group, second)

        async def drain(name: str) -> None:
            count = 0
            while True:
                message = await layer.receive(name)
                if message["type"] == RESYNC_MESSAGE_TYPE:
                    report.notices.append((name, count))
                    continue
                if message["type"] == "fence":
                    fences.value += 1
                    continue
                count += 1
                now = time.time()
                report.received.append((name, int(message["id"]), now))
                last_seen.value = now

        tasks = [asyncio.create_task(drain(channel)), asyncio.create_task(drain(second))]
        ready.put(Target(channel, second, group))
        await asyncio.to_thread(stop.wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats = layer.statistics()
        report.statistics = {
            "dropped_overflow": stats.dropped_overflow,
            "expired": stats.expired,
            "undecodable": stats.undecodable,
            "resyncs": stats.resyncs,
            **stats.extra,
        }
    results.put(report)


def sender_main(
    kind: str,
    options: dict[str, Any],
    targets: list[Target],
    interval: float,
    results: ResultQueue,
    stop: Event,
) -> None:
    """Send to every target, one call every ``interval`` seconds, until ``stop`` is set."""
    asyncio.run(_send(kind, options, targets, interval, results, stop))


def _reported(layer: BaseChannelLayer) -> tuple[int, int]:
    stats = layer.statistics()
    return stats.extra.get("published_unheard", 0), stats.group_skipped_full


async def _send(
    kind: str,
    options: dict[str, Any],
    targets: list[Target],
    interval: float,
    results: ResultQueue,
    stop: Event,
) -> None:
    report = SenderReport()
    next_id = 0
    async with build_layer(kind, options) as layer:
        while not stop.is_set():
            for target in targets:
                for how in ("send", "group"):
                    next_id += 1
                    message = {"type": "m", "id": next_id}
                    unheard, skipped = _reported(layer)
                    started = time.monotonic()
                    try:
                        if how == "send":
                            await layer.send(target.channel, message)
                        else:
                            await layer.group_send(target.group, message)
                    except (LayerConnectionError, ChannelFull):
                        outcome = "failed"
                        report.failed_call_seconds.append(time.monotonic() - started)
                    except Exception as exc:
                        outcome = "failed"
                        report.unexpected.append(repr(exc))
                    else:
                        now_unheard, now_skipped = _reported(layer)
                        if now_unheard > unheard:
                            outcome = "unheard"
                        elif now_skipped > skipped:
                            outcome = "skipped"
                        else:
                            outcome = "ok"
                    report.outcomes.append((next_id, how, outcome, time.time()))
                    await asyncio.sleep(interval)
        for target in targets:
            await _fence(partial(layer.send, target.channel, {"type": "fence"}))
            await _fence(partial(layer.group_send, target.group, {"type": "fence"}))
    results.put(report)


async def _fence(call: Callable[[], Awaitable[None]]) -> None:
    """Make ``call`` until the layer takes it (for up to :data:`FENCE_WAIT` seconds)."""
    deadline = time.monotonic() + FENCE_WAIT
    while True:
        try:
            await call()
        except (LayerConnectionError, ChannelFull):
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)
        else:
            return


@dataclass(frozen=True)
class Accounting:
    """Deliveries due, received and reported, for one run."""

    sent: int
    received: int
    reported: int
    reported_but_received: int
    told: list[Delivery]
    """Due deliveries not received, where their receiver got a resync notice."""
    lost: list[Delivery]
    duplicates: list[Delivery]
    unknown: list[Delivery]

    def summary(self) -> str:
        return (
            f"sent={self.sent} received={self.received} reported={self.reported} "
            f"(of which delivered anyway={self.reported_but_received}) "
            f"told_receiver={len(self.told)} lost={len(self.lost)} "
            f"duplicates={len(self.duplicates)}"
        )


def account(
    targets: list[Target], sender: SenderReport, receivers: list[ReceiverReport]
) -> Accounting:
    """Match every delivery the sender caused with what the receivers got.

    A delivery is *due* if its call returned ``ok``, *reported* otherwise. A reported
    delivery may still arrive (Redis ran the command and then died before answering):
    it counts as received, not as reported. A due delivery that did not arrive was *told*
    to its receiver if a resync notice stands where it is missing (between the messages
    received on that channel just before and just after the notice), so
    ``sent == received + reported + len(told)`` holds exactly when nothing was lost
    silently.
    """
    rotation = [(t, how) for t in targets for how in ("send", "group")]
    due: set[Delivery] = set()
    reported: set[Delivery] = set()
    for message_id, how, outcome, _ in sender.outcomes:
        target, expected_how = rotation[(message_id - 1) % len(rotation)]
        if how != expected_how:
            raise AssertionError(f"message {message_id} was a {how}, expected {expected_how}")
        deliveries = [(target.channel, message_id)]
        if how == "group":
            deliveries.append((target.second, message_id))
        (due if outcome == "ok" else reported).update(deliveries)
    got: dict[Delivery, int] = {}
    for receiver in receivers:
        for channel, message_id, _ in receiver.received:
            got[(channel, message_id)] = got.get((channel, message_id), 0) + 1
    received = set(got)
    missing = due - received
    told = {d for d in missing if _noticed(d, receivers)}
    return Accounting(
        sent=len(due) + len(reported),
        received=len(received & (due | reported)),
        reported=len(reported - received),
        reported_but_received=len(reported & received),
        told=sorted(told),
        lost=sorted(missing - told),
        duplicates=sorted(d for d, n in got.items() if n > 1),
        unknown=sorted(received - due - reported),
    )


def describe_lost(
    lost: list[Delivery], sender: SenderReport, receivers: list[ReceiverReport], since: float
) -> list[str]:
    """Each lost delivery with when its call returned (seconds after ``since``) and the
    resync notices its channel got: what a failure report needs to find the cause."""
    returned = {message_id: t for message_id, _, _, t in sender.outcomes}
    notices = [n for r in receivers for n in r.notices]
    return [
        f"{channel[-8:]}#{message_id} sent at {returned[message_id] - since:+.3f}s, notices "
        f"{[before for c, before in notices if c == channel]}"
        for channel, message_id in lost
    ]


def _noticed(delivery: Delivery, receivers: list[ReceiverReport]) -> bool:
    """Whether a resync notice on the delivery's channel stands where it is missing."""
    channel, message_id = delivery
    for receiver in receivers:
        ids = [i for c, i, _ in receiver.received if c == channel]
        for noticed, before in receiver.notices:
            if noticed != channel:
                continue
            previous = ids[before - 1] if before else 0
            following = ids[before] if before < len(ids) else float("inf")
            if previous < message_id < following:
                return True
    return False


def recovery_seconds(receivers: list[ReceiverReport], since: float) -> float:
    """How long after ``since`` the slowest receiver got its first message."""
    firsts: list[float] = []
    for receiver in receivers:
        after = [t for _, _, t in receiver.received if t >= since]
        firsts.append(min(after) - since if after else float("inf"))
    return max(firsts)
