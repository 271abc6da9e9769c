"""Real processes over a real Redis: uvicorn servers, worker processes, WebSocket clients.

Jobs with ``hold`` wait for the test's ``release.<job>`` message, so which worker is busy
is decided by the test, not by timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from fast_channels.layers.redis import RedisChannelLayer
from tests.servers import RedisProcess
from tests.worker.apps import job
from tests.worker.processes import WAIT, Process, start_server, start_worker

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
async def layer(redis_server: RedisProcess) -> AsyncGenerator[RedisChannelLayer]:
    """The layer the example app and the workers use (same prefix), flushed."""
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix="example")
    await layer.flush()
    yield layer
    await layer.flush()
    await layer.aclose()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Processes started by a test; each is stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


@contextlib.asynccontextmanager
async def websocket(port: int) -> AsyncGenerator[ClientConnection]:
    async with connect(f"ws://127.0.0.1:{port}/ws/updates") as ws:
        yield ws


async def next_json(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        data: dict[str, Any] = json.loads(await ws.recv())
    return data


async def progress(ws: ClientConnection) -> tuple[int, str, int]:
    event = await next_json(ws)
    assert event["type"] == "job.progress"
    return event["job"], event["state"], event["pid"]


async def test_an_http_request_reaches_websocket_clients_of_two_server_processes(
    redis_server: RedisProcess, processes: list[Process]
) -> None:
    first, first_port = start_server(redis_server.url)
    processes.append(first)
    second, second_port = start_server(redis_server.url)
    processes.append(second)
    async with (
        websocket(first_port) as a,
        websocket(first_port) as b,
        websocket(second_port) as c,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{first_port}") as http,
    ):
        response = await http.post("/notify", json={"text": "deploy finished"})
        assert response.json() == {"status": "sent"}
        for ws in (a, b, c):
            assert await next_json(ws) == {"type": "notification", "text": "deploy finished"}
        await http.post("/notify-sync", json={"text": "from a thread"})
        for ws in (a, b, c):
            assert (await next_json(ws))["text"] == "from a thread"
    for server in processes:
        server.signal(signal.SIGTERM)
        server.wait_for("Application shutdown complete")  # the lifespan closed the layer
        assert server.wait() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it got
        assert not [line for line in server.output if "Traceback" in line or "ERROR" in line]


async def test_two_workers_share_the_jobs_each_handled_once_progress_reaches_the_client(
    redis_server: RedisProcess, layer: RedisChannelLayer, processes: list[Process]
) -> None:
    server, port = start_server(redis_server.url)
    processes.append(server)
    workers = [start_worker(redis_server.url), start_worker(redis_server.url)]
    processes.extend(workers)
    async with (
        websocket(port) as ws,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        await layer.send("thumbnails", job(1, hold=True))
        first = await progress(ws)
        await layer.send("thumbnails", job(2, hold=True))
        second = await progress(ws)
        # Worker of job 1 is busy (concurrency 1): job 2 can only go to the other one.
        assert (first[:2], second[:2]) == ((1, "started"), (2, "started"))
        assert {first[2], second[2]} == {w.pid for w in workers}
        response = await http.post("/thumbnails", json={"job": 3, "image": "cat.png"})
        assert response.status_code == 202
        await layer.send("release.1", {"type": "release"})
        await layer.send("release.2", {"type": "release"})
        events = [await progress(ws) for _ in range(4)]
    assert sorted(e[:2] for e in events) == [(1, "done"), (2, "done"), (3, "done"), (3, "started")]
    assert {e[2] for e in events if e[0] == 1} == {first[2]}
    handled = 0
    for worker in workers:
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
        line = worker.wait_for("stopped:")
        handled += int(line.split("stopped: ")[1].split(" handled")[0])
    assert handled == 3  # every job exactly once, across both workers


async def test_sigterm_during_a_job_finishes_it_and_leaves_the_next_for_another_worker(
    redis_server: RedisProcess, layer: RedisChannelLayer, processes: list[Process]
) -> None:
    server, port = start_server(redis_server.url)
    processes.append(server)
    worker = start_worker(redis_server.url)
    processes.append(worker)
    async with websocket(port) as ws:
        await layer.send("thumbnails", job(1, hold=True))
        assert (await progress(ws))[:2] == (1, "started")
        worker.signal(signal.SIGTERM)
        worker.wait_for("received SIGTERM: finishing 1 message(s) in hand")
        await layer.send("thumbnails", job(2))
        await layer.send("release.1", {"type": "release"})
        assert await progress(ws) == (1, "done", worker.pid)
        assert worker.wait() == 0
        assert "stopped: 1 handled, 0 failed" in worker.wait_for("stopped:")
        # Job 2 waited in Redis; the next worker takes it.
        successor = start_worker(redis_server.url)
        processes.append(successor)
        assert await progress(ws) == (2, "started", successor.pid)
        assert await progress(ws) == (2, "done", successor.pid)


async def test_the_documented_worker_and_sync_examples_run(
    redis_server: RedisProcess, layer: RedisChannelLayer, processes: list[Process]
) -> None:
    server, port = start_server(redis_server.url)
    processes.append(server)
    args = ["--app", "docs.examples.worker_thumbnails:ThumbnailConsumer"]
    setup = ["--setup", "docs.examples.worker_thumbnails:setup_layers"]
    worker = Process(
        [sys.executable, "-m", "fast_channels", "worker", "thumbnails", *args, *setup],
        redis_url=redis_server.url,
    )
    processes.append(worker)
    worker.wait_for("receiving from 'thumbnails'")
    user = await layer.new_channel()
    await layer.group_add("user.3", user)
    async with websocket(port) as ws:
        sender = Process(
            [sys.executable, "-m", "docs.examples.sync_task"], redis_url=redis_server.url
        )
        processes.append(sender)
        sender.wait_for("sent")
        assert sender.wait() == 0
        events = [await next_json(ws) for _ in range(3)]
    assert [(e["job"], e["percent"], e["worker"]) for e in events] == [
        (1, 0, worker.pid),
        (1, 50, worker.pid),
        (1, 100, worker.pid),
    ]
    assert events[-1]["thumbnail"] == "thumbs/cat.png"
    assert await layer.receive(user) == {"type": "export.done", "url": "/exports/3.csv"}
