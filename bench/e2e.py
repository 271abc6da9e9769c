"""End-to-end WebSocket fan-out: server under uvicorn, C clients, one publisher.

Three processes besides Redis: the server (a uvicorn subprocess, watched with psutil),
C ``websockets`` clients in worker B, and a publisher in worker A doing ``group_send``
(or ``broadcast.publish``) with a window of messages in flight. A message completes when
all C clients have it; worker B acknowledges completions to the publisher.

Measured: connect time, deliveries/s, latency p50/p99 under load and unloaded, server
CPU per delivery (user + system) and server RSS per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.acks import PipeAckReader, PipeAckWriter, Window
from bench.scenarios import LOAD, PHASE_NAMES, UNLOADED, WARM, Tracker
from bench.stats import summarize_latency

__all__ = ["E2E_APPS", "E2EApp", "publisher_job", "run_e2e_case", "ws_clients_job"]


@dataclass(frozen=True)
class E2EApp:
    key: str
    label: str
    role: str
    requires: tuple[tuple[str, str], ...]


E2E_APPS: tuple[E2EApp, ...] = (
    E2EApp("ours-pubsub", "ours consumer + RedisPubSubChannelLayer", "ours",
           (("fast_channels.consumer.websocket", "AsyncWebsocketConsumer"),
            ("fast_channels.layers.redis", "RedisPubSubChannelLayer"))),
    E2EApp("ours-queue", "ours consumer + RedisChannelLayer", "ours",
           (("fast_channels.consumer.websocket", "AsyncWebsocketConsumer"),
            ("fast_channels.layers.redis", "RedisChannelLayer"))),
    E2EApp("channels-pubsub", "Django Channels consumer + channels_redis pub/sub", "peer",
           (("channels.generic.websocket", "AsyncWebsocketConsumer"),
            ("channels_redis.pubsub", "RedisPubSubChannelLayer"))),
    E2EApp("broadcaster", "native Starlette + broadcaster (baseline)", "peer",
           (("broadcaster", "Broadcast"), ("starlette.websockets", "WebSocket"))),
)  # fmt: skip


def e2e_unavailable_reason(app: E2EApp) -> str | None:
    for module, attr in app.requires:
        try:
            getattr(importlib.import_module(module), attr)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
    return None


# -- worker B: the clients ------------------------------------------------------------------


async def ws_clients_job(job: dict[str, Any], ctx: Any) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from bench.workers import measuring, recv_async

    clients: int = job["clients"]
    tracker = Tracker(clients, PipeAckWriter(ctx.ack_out))
    connect_ns: list[int] = []
    errors: list[str] = []
    sockets: list[Any] = []
    gate = asyncio.Semaphore(64)

    async def open_one() -> None:
        async with gate:
            t0 = time.monotonic_ns()
            try:
                ws = await connect(job["ws_url"], compression=None, ping_interval=None,
                                   open_timeout=60, max_queue=None)  # fmt: skip
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            connect_ns.append(time.monotonic_ns() - t0)
            sockets.append(ws)

    async def read(ws: Any) -> None:
        on_message = tracker.on_message
        with contextlib.suppress(Exception):
            async for text in ws:
                phase, seq, sent = text.split(" ", 3)[:3]
                on_message(int(phase), int(seq), int(sent))

    t0 = time.monotonic()
    # The first client alone, then the rest 64 at a time: broadcaster 0.3.1 loses all but
    # one of the subscribers that open a channel concurrently (each replaces the other's
    # queue set), which would leave some clients deaf for the whole run.
    await open_one()
    await asyncio.gather(*(open_one() for _ in range(clients - 1)))
    connect_total = time.monotonic() - t0
    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    measuring(True)
    await ctx.ready(
        connected=len(sockets),
        connect_errors=len(errors),
        connect_first_error=errors[0] if errors else None,
        connect_total_s=connect_total,
        **summarize_latency(connect_ns, "connect"),
    )
    message = await recv_async(ctx.conn)
    measuring(False)
    if message != "stop":
        raise RuntimeError(f"expected 'stop', got {message!r}")
    t0 = time.monotonic()
    if sockets:
        await asyncio.wait([asyncio.create_task(ws.close()) for ws in sockets], timeout=20)
    close_total = time.monotonic() - t0
    for task in readers:
        task.cancel()
    await asyncio.wait(readers, timeout=5) if readers else None
    return {"close_total_s": close_total, **tracker.summary()}


# -- worker A: the publisher ------------------------------------------------------------------


async def _open_publisher(
    app: str, url: str
) -> tuple[Callable[[str], Awaitable[None]], Callable[[], Awaitable[None]]]:
    from bench.e2e_apps import GROUP

    if app == "broadcaster":
        from broadcaster import Broadcast

        broadcast = Broadcast(url)
        await broadcast.connect()

        async def publish(text: str) -> None:
            await broadcast.publish(channel=GROUP, message=text)

        return publish, broadcast.disconnect
    layer: Any
    if app == "ours-pubsub":
        from fast_channels.layers.redis import RedisPubSubChannelLayer

        layer = RedisPubSubChannelLayer(hosts=[url])
    elif app == "ours-queue":
        from fast_channels.layers.redis import RedisChannelLayer

        layer = RedisChannelLayer(hosts=[url], capacity=1000)
    elif app == "channels-pubsub":
        from channels_redis.pubsub import RedisPubSubChannelLayer as CRPubSub

        layer = CRPubSub(hosts=[url])
    else:
        raise ValueError(app)

    async def group_send(text: str) -> None:
        await layer.group_send(GROUP, {"type": "bench.message", "text": text})

    async def close() -> None:
        from bench.impls import close_layer

        await close_layer(layer)

    return group_send, close


async def _publish_phase(
    publish: Callable[[str], Awaitable[None]],
    reader: PipeAckReader,
    phase_id: int,
    window_size: int,
    duration: float,
    limit: int,
    stall: float,
) -> dict[str, Any]:
    window = Window(reader.acks, phase_id, window_size, stall)
    seq = itertools.count()
    errors: list[str] = []
    deadline = time.monotonic() + duration
    cpu0, t0 = time.process_time(), time.monotonic()
    while time.monotonic() < deadline and window.sent < limit and await window.acquire():
        try:
            await publish(f"{phase_id} {next(seq)} {time.monotonic_ns()} {'x' * 64}")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            if len(errors) > 100:
                break
        else:
            window.sent += 1
    lost = await window.drain(stall)
    name = PHASE_NAMES.get(phase_id, "warm")
    return {
        f"{name}_sent": window.sent,
        f"{name}_lost": lost,
        f"{name}_send_errors": len(errors),
        f"{name}_first_error": errors[0] if errors else None,
        f"{name}_elapsed": time.monotonic() - t0,
        f"{name}_sender_cpu_us": (time.process_time() - cpu0) / max(window.sent, 1) * 1e6,
    }


async def publisher_job(job: dict[str, Any], ctx: Any) -> dict[str, Any]:
    from bench.workers import measuring, recv_async

    timing = job["timing"]
    publish, close = await _open_publisher(job["app"], job["url"])
    reader = PipeAckReader(ctx.ack_in)
    try:
        await ctx.ready()
        if await recv_async(ctx.conn) != "go":
            raise RuntimeError("expected 'go'")
        measuring(True)
        out: dict[str, Any] = {}
        for attempt in range(20):
            # Each attempt is its own phase: a late straggler cannot complete a later one.
            warm = await _publish_phase(publish, reader, WARM + 10 + attempt, 1, 5.0, 1, 0.5)
            if warm["warm_lost"] == 0:
                break
        else:
            raise RuntimeError("no message reached every client while warming up")
        out.update(await _publish_phase(publish, reader, LOAD, job["window"],
                                        timing.duration, 10**9, timing.stall))  # fmt: skip
        out.update(await _publish_phase(publish, reader, UNLOADED, 1, timing.unloaded_duration,
                                        timing.unloaded_max, timing.stall))  # fmt: skip
        return out
    finally:
        measuring(False)
        reader.close()
        await close()


# -- orchestrator ---------------------------------------------------------------------------


def run_e2e_case(
    pool: Any, app: E2EApp, clients: int, timing: Any, redis_url: str, rep: int
) -> dict[str, Any]:
    """One end-to-end measurement; failures are recorded, the server always stopped."""
    import psutil

    from bench.servers import UvicornServer, running
    from bench.workers import JobError

    record: dict[str, Any] = {
        "scenario": f"e2e-{clients}", "mode": "e2e", "impl": app.key, "rep": rep,
        "ok": True, "error": None, "metrics": {},
    }  # fmt: skip
    started = time.monotonic()
    server = UvicornServer(
        "bench.e2e_apps:app", {"BENCH_APP": app.key, "BENCH_REDIS_URL": redis_url}
    )
    try:
        with running(server):
            proc = psutil.Process(server.pid)
            time.sleep(0.2)
            rss0 = proc.memory_info().rss
            pool.b.send({"kind": "ws_clients", "clients": clients,
                         "ws_url": f"ws://127.0.0.1:{server.port}/"})  # fmt: skip
            ready = pool.b.wait(120)
            time.sleep(0.3)
            rss1 = proc.memory_info().rss
            pool.a.send({"kind": "publisher", "app": app.key, "url": redis_url,
                         "timing": timing, "window": 4})  # fmt: skip
            try:
                pool.a.wait(60)
                cpu0 = proc.cpu_times()
                pool.a.send("go")
                published = pool.a.result(timing.duration + timing.unloaded_duration + 120)
                cpu1 = proc.cpu_times()
            finally:
                pool.b.send("stop")
            received = pool.b.result(60)
        connected = max(int(ready["connected"]), 1)
        deliveries = sum(v for k, v in received.items() if k.endswith("_deliveries"))
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        metrics = {k: v for k, v in ready.items() if k != "event"}
        metrics.update(published)
        metrics.update(received)
        metrics["server_rss_per_conn_kib"] = (rss1 - rss0) / connected / 1024
        metrics["server_cpu_us_per_delivery"] = cpu / max(deliveries, 1) * 1e6
        record["metrics"] = metrics
    except (JobError, Exception) as exc:
        record.update(ok=False, error=f"{type(exc).__name__}: {exc}".strip())
        pool.restart()
    record["wall_s"] = round(time.monotonic() - started, 2)
    return record
