"""Start the receiver and sender processes of :mod:`tests.resilience.traffic`, stop them,
collect their reports."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from multiprocessing.process import BaseProcess
from typing import Any

from tests.resilience.traffic import (
    FENCE_WAIT,
    FENCES,
    ReceiverReport,
    SenderReport,
    SharedFloat,
    Target,
    receiver_main,
    sender_main,
)

_CTX = multiprocessing.get_context("spawn")


class Traffic:
    """``receivers`` receiver processes and one sender process on one layer kind."""

    def __init__(
        self,
        kind: str,
        options: dict[str, Any],
        *,
        receivers: int = 2,
        interval: float = 0.004,
    ) -> None:
        self.kind = kind
        self.options = options
        self.receiver_count = receivers
        self.interval = interval
        self.targets: list[Target] = []
        self.processes: list[BaseProcess] = []
        self._ready: multiprocessing.Queue[Any] = _CTX.Queue()
        self._results: multiprocessing.Queue[Any] = _CTX.Queue()
        self._stop_receivers = _CTX.Event()
        self._stop_sender = _CTX.Event()
        self._last_seen: list[SharedFloat] = [_CTX.Value("d", 0.0) for _ in range(receivers)]
        self._fences: list[SharedFloat] = [_CTX.Value("d", 0.0) for _ in range(receivers)]
        self._sender: BaseProcess | None = None

    async def start(self) -> None:
        """Start the receivers, wait until they subscribed, then start the sender."""
        for index in range(self.receiver_count):
            self._spawn(
                receiver_main,
                self.kind,
                self.options,
                index,
                self._ready,
                self._results,
                self._stop_receivers,
                self._last_seen[index],
                self._fences[index],
            )
        for _ in range(self.receiver_count):
            self.targets.append(await self._get(self._ready, 30))
        self._sender = self._spawn(
            sender_main,
            self.kind,
            self.options,
            self.targets,
            self.interval,
            self._results,
            self._stop_sender,
        )

    def _spawn(self, target: Any, *args: Any) -> BaseProcess:
        process = _CTX.Process(target=target, args=args, daemon=True)
        process.start()
        self.processes.append(process)
        return process

    @staticmethod
    async def _get(source: multiprocessing.Queue[Any], seconds: float) -> Any:
        try:
            return await asyncio.to_thread(source.get, True, seconds)
        except queue.Empty:
            raise AssertionError(f"no report from a child process within {seconds}s") from None

    async def wait_delivery_after(self, since: float, within: float) -> float:
        """Wait until every receiver got a message after ``since`` (wall clock); how long
        that took. ``AssertionError`` after ``within`` seconds."""
        deadline = time.monotonic() + within
        while not all(v.value >= since for v in self._last_seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"receivers got nothing within {within}s after {since}")
            await asyncio.sleep(0.01)
        return max(v.value for v in self._last_seen) - since

    async def finish(self) -> tuple[SenderReport, list[ReceiverReport]]:
        """Stop the sender, wait until every receiver got the sender's last fences (or they
        were lost: a generous deadline), stop the receivers; the reports."""
        self._stop_sender.set()
        sender: SenderReport = await self._get(self._results, FENCE_WAIT + 30)
        deadline = time.monotonic() + 30
        while not all(v.value >= FENCES for v in self._fences):
            if time.monotonic() > deadline:  # a fence lost (and reported): stop anyway
                break
            await asyncio.sleep(0.01)
        self._stop_receivers.set()
        receivers: list[ReceiverReport] = [
            await self._get(self._results, 30) for _ in range(self.receiver_count)
        ]
        for process in self.processes:
            await asyncio.to_thread(process.join, 10)
        return sender, sorted(receivers, key=lambda r: r.index)

    def kill(self) -> None:
        """Kill every child still running (test teardown)."""
        for process in self.processes:
            if process.is_alive():
                process.kill()
                process.join(5)
