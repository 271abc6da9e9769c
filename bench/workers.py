"""Two long-lived worker processes, and the jobs they run for the orchestrator.

Worker A sends, worker B receives; a one-way pipe carries B's acknowledgements to A.
Each job runs in a fresh event loop (``asyncio.run``) with fresh layer instances, so no
state survives from one implementation to the next. A job can talk to the orchestrator
while it runs (``ready`` … ``go`` / ``stop``), which is the start barrier between the two
processes. A worker that hangs or dies is killed by PID and the pair is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Coroutine
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from bench.acks import AckReader, Acks, AckWriter, PipeAckReader, PipeAckWriter
from bench.impls import by_key, close_layer
from bench.scenarios import (
    Receiver,
    layer_options,
    run_churn,
    run_recover,
    run_sender,
    scenario_by_key,
)
from bench.servers import raise_fd_limit

__all__ = ["JobError", "Pool", "measuring", "recv_async"]

ABANDON_AFTER = 3.0


class JobError(RuntimeError):
    """A job failed in a worker, or the worker did not answer in time."""


async def recv_async(conn: Connection) -> Any:
    """Wait for the next object on ``conn`` without blocking the event loop."""
    if conn.poll():
        return conn.recv()
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(conn.fileno(), readable)
    try:
        await fut
    finally:
        loop.remove_reader(conn.fileno())
    return conn.recv()


async def _expect(conn: Connection, word: str) -> None:
    message = await recv_async(conn)
    if message != word:
        raise JobError(f"expected {word!r} from the orchestrator, got {message!r}")


class _Context:
    def __init__(self, conn: Connection, ack_in: Connection | None, ack_out: Connection | None):
        self.conn = conn
        self.ack_in = ack_in
        self.ack_out = ack_out

    async def ready(self, **info: Any) -> None:
        self.conn.send({"event": "ready", **info})


async def _start_measuring() -> None:
    measuring(True)


async def _solo(job: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    impl, scenario, timing = by_key(job["impl"]), scenario_by_key(job["scenario"]), job["timing"]
    layer = await impl.open(job["url"], timing.capacity, **layer_options(scenario))
    try:
        if scenario.kind == "churn":
            return await run_churn(layer, scenario, timing.duration, _start_measuring)
        if scenario.kind == "recover":
            measuring(True)
            try:
                return await run_recover(layer, scenario, timing.duration)
            finally:
                measuring(False)
        acks = Acks()
        receiver = Receiver(layer, scenario, AckWriter(acks))
        info = await receiver.setup()
        measuring(True)
        try:
            sent = await run_sender(layer, scenario, info, AckReader(acks), timing)
        finally:
            measuring(False)
            received = await receiver.stop()
        return {**sent, **received}
    finally:
        await close_layer(layer)


async def _receiver(job: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    if ctx.ack_out is None:
        raise JobError("this worker has no acknowledgement pipe to write")
    impl, scenario, timing = by_key(job["impl"]), scenario_by_key(job["scenario"]), job["timing"]
    layer = await impl.open(job["url"], timing.capacity, **layer_options(scenario))
    try:
        receiver = Receiver(layer, scenario, PipeAckWriter(ctx.ack_out))
        info = await receiver.setup()
        await ctx.ready(**info)
        measuring(True)
        await _expect(ctx.conn, "stop")
        measuring(False)
        return await receiver.stop()
    finally:
        await close_layer(layer)


async def _sender(job: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    if ctx.ack_in is None:
        raise JobError("this worker has no acknowledgement pipe to read")
    impl, scenario, timing = by_key(job["impl"]), scenario_by_key(job["scenario"]), job["timing"]
    layer = await impl.open(job["url"], timing.capacity, **layer_options(scenario))
    acks = PipeAckReader(ctx.ack_in)
    try:
        await ctx.ready()
        await _expect(ctx.conn, "go")
        measuring(True)
        return await run_sender(layer, scenario, job["info"], acks, timing)
    finally:
        measuring(False)
        acks.close()
        await close_layer(layer)


async def _churn(job: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    impl, scenario, timing = by_key(job["impl"]), scenario_by_key(job["scenario"]), job["timing"]
    layer = await impl.open(job["url"], timing.capacity, **layer_options(scenario))

    async def barrier() -> None:
        await ctx.ready()
        await _expect(ctx.conn, "go")
        measuring(True)

    try:
        return await run_churn(layer, scenario, timing.duration, barrier)
    finally:
        measuring(False)
        await close_layer(layer)


def _jobs() -> dict[str, Any]:
    from bench import e2e

    return {
        "solo": _solo,
        "receiver": _receiver,
        "sender": _sender,
        "churn": _churn,
        "ws_clients": e2e.ws_clients_job,
        "publisher": e2e.publisher_job,
    }


def _run_fresh(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """``asyncio.run`` that cannot hang on a task that ignores cancellation.

    (channels_redis's queue layer leaves one ``receive()`` that does; ``asyncio.run`` would
    wait for it for as long as it likes.) Such tasks are abandoned after a few seconds.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=ABANDON_AFTER))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.set_exception_handler(lambda _loop, _context: None)
            loop.close()


_profiler: Any = None


def measuring(on: bool) -> None:
    """Profile (``$BENCH_PROFILE_DIR``) only what is measured: not setup, not teardown."""
    if _profiler is not None:
        if on:
            _profiler.enable()
        else:
            _profiler.disable()


def _run_job(func: Any, job: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    """Run one job in a fresh loop; profiled into ``$BENCH_PROFILE_DIR`` when it is set."""
    global _profiler
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    if not profile_dir:
        return _run_fresh(func(job, ctx))
    import cProfile

    name = "-".join(str(job.get(k, "")) for k in ("kind", "impl", "scenario", "app"))
    _profiler = cProfile.Profile()
    try:
        return _run_fresh(func(job, ctx))
    finally:
        _profiler.disable()
        _profiler.dump_stats(os.path.join(profile_dir, f"{name.strip('-')}.prof"))
        _profiler = None


def worker_main(conn: Connection, ack_in: Connection | None, ack_out: Connection | None) -> None:
    raise_fd_limit()
    jobs = _jobs()
    ctx = _Context(conn, ack_in, ack_out)
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            result = _run_job(jobs[job["kind"]], job, ctx)
        except BaseException as exc:
            conn.send({"event": "result", "ok": False,
                       "error": f"{type(exc).__name__}: {exc}",
                       "traceback": traceback.format_exc(limit=8)})  # fmt: skip
            if isinstance(exc, KeyboardInterrupt):
                return
        else:
            conn.send({"event": "result", "ok": True, "result": result})


class _Worker:
    def __init__(self, ctx: Any, name: str, ack_in: Connection | None, ack_out: Connection | None):
        self.conn, child = ctx.Pipe()
        self.name = name
        self.proc: BaseProcess = ctx.Process(
            target=worker_main, args=(child, ack_in, ack_out), name=f"bench-{name}", daemon=True
        )
        self.proc.start()
        child.close()

    def send(self, message: Any) -> None:
        self.conn.send(message)

    def wait(self, timeout: float) -> dict[str, Any]:
        """The worker's next message; JobError on a failed job or silence."""
        if not self.conn.poll(timeout):
            raise JobError(f"worker {self.name} gave no answer within {timeout:.0f}s")
        try:
            message: dict[str, Any] = self.conn.recv()
        except EOFError as exc:
            raise JobError(f"worker {self.name} died") from exc
        if message.get("event") == "result" and not message.get("ok"):
            raise JobError(f"{message['error']}\n{message.get('traceback', '')}")
        return message

    def result(self, timeout: float) -> dict[str, Any]:
        message = self.wait(timeout)
        if message.get("event") != "result":
            raise JobError(f"worker {self.name}: expected a result, got {message!r}")
        result: dict[str, Any] = message["result"]
        return result

    def stop(self) -> None:
        if self.proc.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.proc.join(2)
        if self.proc.is_alive() and self.proc.pid is not None:
            os.kill(self.proc.pid, 9)
            self.proc.join(2)
        self.conn.close()


class Pool:
    """Worker A (sender side) and worker B (receiver side), restartable as a pair."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self.a, self.b = self._start()

    def _start(self) -> tuple[_Worker, _Worker]:
        ack_in, ack_out = self._ctx.Pipe(duplex=False)
        a = _Worker(self._ctx, "A", ack_in, None)
        b = _Worker(self._ctx, "B", None, ack_out)
        ack_in.close()
        ack_out.close()
        return a, b

    def restart(self) -> None:
        self.a.stop()
        self.b.stop()
        time.sleep(0.2)
        self.a, self.b = self._start()

    def close(self) -> None:
        self.a.stop()
        self.b.stop()
