"""The scenarios: what a receiving side sets up, what a sending side does, what is measured.

* ``p2p`` — one sender, one channel made by ``new_channel()``.
* ``p2p-concurrent`` — 100 channels, 10 concurrent sender tasks (each owns 10 channels).
* ``fanout-N`` — ``group_send`` to a group of N channels, each with its own receive loop
  (as N consumers would have).
* ``churn`` — 100 tasks each doing ``group_add`` then ``group_discard`` over 10 groups.
* ``fanout-N-history`` — ``fanout-N`` with the group keeping history (our layers only):
  against ``fanout-N`` of the same run, what recording each message costs.
* ``recover-1000`` — a member leaves a group keeping history, 1,000 messages are sent, and
  it comes back with ``group_recover(since=...)``: the time to get all 1,000, in order (one
  process; our layers only).

A run has phases: warm-up (not measured), *load* (``window`` messages outstanding for
``duration`` seconds: throughput and latency under load) and, where it makes sense,
*unloaded* (window 1: each message waits for the previous one: latency alone).
Every message carries ``time.monotonic_ns()`` at send, a clock shared by all processes
on Linux, so latency is measured across processes without clock skew.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.acks import AckReader, AckWriter, Window
from bench.impls import LayerLike
from bench.stats import summarize_latency

__all__ = [
    "SCENARIOS",
    "Receiver",
    "Scenario",
    "Timing",
    "Tracker",
    "layer_options",
    "run_churn",
    "run_recover",
    "run_sender",
]

WARM, LOAD, UNLOADED = 0, 1, 2
PHASE_NAMES = {WARM: "warm", LOAD: "load", UNLOADED: "unloaded"}
GROUP = "bench.group"
PAYLOAD = "x" * 64
MISSED = 1000
"""Messages a ``recover`` scenario's member misses, then recovers."""


@dataclass(frozen=True)
class Scenario:
    key: str
    kind: str
    """``p2p``, ``fanout``, ``churn`` or ``recover``."""
    channels: int
    senders: int = 1
    window: int = 1
    unloaded: bool = True
    headline: bool = False
    history: bool = False
    """The group keeps history (``group_options``): our layers only."""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("p2p", "p2p", channels=1, window=100, headline=True),
    Scenario("p2p-concurrent", "p2p", channels=100, senders=10, window=1000,
             unloaded=False, headline=True),
    Scenario("fanout-10", "fanout", channels=10, window=100),
    Scenario("fanout-100", "fanout", channels=100, window=20),
    Scenario("fanout-1000", "fanout", channels=1000, window=4, headline=True),
    Scenario("churn", "churn", channels=100, senders=100, unloaded=False),
    Scenario("fanout-10-history", "fanout", channels=10, window=100, history=True),
    Scenario("fanout-1000-history", "fanout", channels=1000, window=4, history=True),
    Scenario("recover-1000", "recover", channels=1, unloaded=False, history=True),
)  # fmt: skip


def layer_options(scenario: Scenario) -> dict[str, Any]:
    """Extra options to open our layers with for ``scenario`` (history on its group)."""
    if not scenario.history:
        return {}
    from fast_channels.layers import GroupOptions

    return {"group_options": {GROUP: GroupOptions(history_size=MISSED, history_ttl=3600)}}


@dataclass(frozen=True)
class Timing:
    duration: float = 1.0
    unloaded_duration: float = 0.5
    unloaded_max: int = 300
    warm: int = 3
    stall: float = 3.0
    capacity: int = 2000


@dataclass
class _Phase:
    deliveries: int = 0
    completed: int = 0
    first_sent: int = 0
    last_recv: int = 0
    cpu_first: float = 0.0
    cpu_last: float = 0.0
    latency: list[int] = field(default_factory=list)
    done_latency: list[int] = field(default_factory=list)


class Tracker:
    """Counts deliveries per phase and completes a message once ``expected`` members have it."""

    def __init__(self, expected: int, acks: AckWriter) -> None:
        self.expected = expected
        self.acks = acks
        self.phases: dict[int, _Phase] = {}
        self.pending: defaultdict[tuple[int, int], int] = defaultdict(int)

    def on_message(self, phase_id: int, seq: int, sent: int) -> None:
        now = time.monotonic_ns()
        phase = self.phases.get(phase_id)
        if phase is None:
            phase = self.phases[phase_id] = _Phase(first_sent=sent, cpu_first=time.process_time())
        phase.deliveries += 1
        phase.first_sent = min(phase.first_sent, sent)
        phase.last_recv = now
        phase.latency.append(now - sent)
        if self.expected > 1:
            key = (phase_id, seq)
            count = self.pending[key] + 1
            if count < self.expected:
                self.pending[key] = count
                return
            del self.pending[key]
        phase.completed += 1
        phase.done_latency.append(now - sent)
        phase.cpu_last = time.process_time()
        self.acks.completed(phase_id, phase.completed)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for phase_id, phase in self.phases.items():
            name = PHASE_NAMES.get(phase_id)
            if name is None or name == "warm":
                out["warm_deliveries"] = out.get("warm_deliveries", 0) + phase.deliveries
                continue
            span = max(phase.last_recv - phase.first_sent, 1)
            out[f"{name}_deliveries"] = phase.deliveries
            out[f"{name}_rate"] = phase.deliveries / (span / 1e9)
            out.update(summarize_latency(phase.latency, f"{name}_lat"))
            if self.expected > 1:
                out.update(summarize_latency(phase.done_latency, f"{name}_done"))
            if phase.deliveries > 1:
                cpu = phase.cpu_last - phase.cpu_first
                out[f"{name}_recv_cpu_us"] = cpu / phase.deliveries * 1e6
        return out


class Receiver:
    """Channels (and a group) with one receive loop each, completing messages as they land."""

    def __init__(self, layer: LayerLike, scenario: Scenario, acks: AckWriter) -> None:
        self.layer = layer
        self.scenario = scenario
        self.tracker = Tracker(scenario.channels if scenario.kind == "fanout" else 1, acks)
        self.tasks: list[asyncio.Task[None]] = []
        self.errors: list[str] = []

    async def setup(self) -> dict[str, Any]:
        channels = [await self.layer.new_channel() for _ in range(self.scenario.channels)]
        if self.scenario.kind == "fanout":
            for channel in channels:
                await self.layer.group_add(GROUP, channel)
        self.tasks = [asyncio.create_task(self._loop(ch)) for ch in channels]
        await asyncio.sleep(0)
        return {"channels": channels, "group": GROUP}

    async def _loop(self, channel: str) -> None:
        receive = self.layer.receive
        on_message = self.tracker.on_message
        while True:
            try:
                message = await receive(channel)
                on_message(message["p"], message["s"], message["t"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                if len(self.errors) > 20:
                    return

    async def stop(self) -> dict[str, Any]:
        for task in self.tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self.tasks, timeout=2) if self.tasks else (None, set())
        out: dict[str, Any] = {"receiver_errors": self.errors[:5]}
        if stuck:
            out["receiver_errors"].append(f"{len(stuck)} receive() calls ignored cancellation")
        out.update(self.tracker.summary())
        return out


async def _send_phase(
    layer: LayerLike,
    scenario: Scenario,
    info: dict[str, Any],
    acks: AckReader,
    *,
    phase_id: int,
    window_size: int,
    duration: float,
    limit: int,
    stall: float,
) -> dict[str, Any]:
    window = Window(acks.acks, phase_id, window_size, stall)
    seq = itertools.count()
    errors: list[str] = []
    channels: list[str] = info["channels"]
    deadline = time.monotonic() + duration

    async def sender(k: int) -> None:
        if scenario.kind == "fanout":
            send, targets = layer.group_send, [info["group"]]
        else:
            send, targets = layer.send, channels[k :: scenario.senders]
        for target in itertools.cycle(targets):
            if time.monotonic() >= deadline or window.sent >= limit:
                return
            if not await window.acquire():
                return
            message = {"type": "bench.message", "p": phase_id, "s": next(seq),
                       "t": time.monotonic_ns(), "x": PAYLOAD}  # fmt: skip
            try:
                await send(target, message)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                if len(errors) > 100:
                    return
            else:
                window.sent += 1

    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(sender(k) for k in range(scenario.senders)))
    lost = await window.drain(stall)
    cpu1, t1 = time.process_time(), time.monotonic()
    name = PHASE_NAMES[phase_id]
    return {
        f"{name}_sent": window.sent,
        f"{name}_lost": lost,
        f"{name}_send_errors": len(errors),
        f"{name}_first_error": errors[0] if errors else None,
        f"{name}_elapsed": t1 - t0,
        f"{name}_sender_cpu_us": (cpu1 - cpu0) / max(window.sent, 1) * 1e6,
    }


async def run_sender(
    layer: LayerLike, scenario: Scenario, info: dict[str, Any], acks: AckReader, timing: Timing
) -> dict[str, Any]:
    """Warm up, then the load phase, then (if the scenario has one) the unloaded phase."""
    out: dict[str, Any] = {}

    async def phase(phase_id: int, window: int, duration: float, limit: int) -> dict[str, Any]:
        return await _send_phase(
            layer, scenario, info, acks, phase_id=phase_id, window_size=window,
            duration=duration, limit=limit, stall=timing.stall,
        )  # fmt: skip

    warm = await phase(WARM, 1, 30.0, timing.warm)
    out.update(warm)
    if warm["warm_sent"] == 0 or warm["warm_lost"] == warm["warm_sent"]:
        raise RuntimeError(f"nothing delivered while warming up: {warm}")
    out.update(await phase(LOAD, scenario.window, timing.duration, 10**9))
    if scenario.unloaded:
        out.update(await phase(UNLOADED, 1, timing.unloaded_duration, timing.unloaded_max))
    return out


async def run_churn(
    layer: LayerLike,
    scenario: Scenario,
    duration: float,
    barrier: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """``group_add`` + ``group_discard`` in a loop from ``scenario.senders`` tasks,
    started after ``barrier()`` returns (once every process has its channels)."""
    channels = [await layer.new_channel() for _ in range(scenario.senders)]
    if barrier is not None:
        await barrier()
    errors: list[str] = []
    ops = 0
    deadline = time.monotonic() + duration

    async def churner(k: int) -> None:
        nonlocal ops
        channel, group = channels[k], f"bench.churn{k % 10}"
        while time.monotonic() < deadline:
            try:
                await layer.group_add(group, channel)
                await layer.group_discard(group, channel)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                if len(errors) > 100:
                    return
                await asyncio.sleep(0.001)
            else:
                ops += 2

    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(churner(k) for k in range(len(channels))))
    cpu1, t1 = time.process_time(), time.monotonic()
    return {
        "churn_ops": ops,
        "churn_elapsed": t1 - t0,
        "churn_rate": ops / (t1 - t0),
        "churn_errors": len(errors),
        "churn_first_error": errors[0] if errors else None,
        "churn_cpu_us": (cpu1 - cpu0) / max(ops, 1) * 1e6,
    }


async def run_recover(layer: Any, scenario: Scenario, duration: float) -> dict[str, Any]:
    """A member misses ``MISSED`` messages, then recovers them, again and again for
    ``duration`` seconds (at least 5 times): how long each recovery takes."""
    from fast_channels.layers import Recovered

    channel = await layer.new_channel()
    start = (await layer.group_recover(GROUP, channel)).position
    await layer.group_discard(GROUP, channel)
    for first in range(0, MISSED, 50):
        await asyncio.gather(*(
            layer.group_send(GROUP, {"type": "bench.message", "s": i, "x": PAYLOAD})
            for i in range(first, min(first + 50, MISSED))
        ))  # fmt: skip
    took: list[int] = []
    lost = 0
    cpu0 = time.process_time()
    deadline = time.monotonic() + duration
    while len(took) < 5 or time.monotonic() < deadline:
        t0 = time.monotonic_ns()
        result = await layer.group_recover(GROUP, channel, start)
        took.append(time.monotonic_ns() - t0)
        got = result.messages if isinstance(result, Recovered) else ()
        if [m["s"] for m in got] != list(range(MISSED)):
            lost += MISSED - len(got)
        await layer.group_discard(GROUP, channel)
    cpu = time.process_time() - cpu0
    recovered = len(took) * MISSED - lost
    out: dict[str, Any] = {
        "recover_runs": len(took),
        "recover_deliveries": recovered,
        "load_lost": lost,
        "recover_cpu_us": cpu / max(recovered, 1) * 1e6,
        "recover_rate": recovered / (sum(took) / 1e9),
    }
    out.update(summarize_latency(took, "recover"))
    return out


def scenario_by_key(key: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.key == key:
            return scenario
    raise KeyError(key)


def timing_dict(timing: Timing) -> dict[str, Any]:
    return asdict(timing)
