"""With Redis, ``python -m demo`` runs jobs in a worker process that never outlives it,
and refuses to start, saying why, when ``REDIS_URL`` points nowhere."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from demo.worker import GRACE_ENV
from tests.demo.conftest import JOB_STEP_SECONDS
from tests.demo.server import ROOT, DemoServer
from tests.servers import RedisProcess, free_port

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(90)]

EXIT_TIMEOUT = 20.0


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def wait_until_gone(pid: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EXIT_TIMEOUT
    while is_running(pid):
        if loop.time() > deadline:
            raise AssertionError(f"worker pid {pid} still runs {EXIT_TIMEOUT}s later")
        await asyncio.sleep(0.05)


async def run_a_job(server: DemoServer) -> int:
    """Run one job to 100 % over a WebSocket; the pid of the worker process that ran it."""
    ws_url = server.url.replace("http://", "ws://") + "/ws/events"
    async with connect(ws_url) as events, httpx.AsyncClient() as http:
        hello = json.loads(await events.recv())
        response = await http.post(f"{server.url}/jobs", json={"channel": hello["channel"]})
        assert response.status_code == 202
        while True:
            event = json.loads(await events.recv())
            if event.get("kind") == "job" and event["percent"] == 100:
                break
    match = re.fullmatch(r"worker pid (\d+)", event["worker"])
    assert match, f"the job ran in {event['worker']!r}, not in a worker process"
    return int(match[1])


@pytest.fixture
def server(redis_server: RedisProcess, tmp_path: Path) -> DemoServer:
    return DemoServer(
        tmp_path / "demo.log", redis_url=redis_server.url, job_step_seconds=JOB_STEP_SECONDS
    )


async def test_stopping_the_demo_stops_its_worker(server: DemoServer) -> None:
    await server.start()
    try:
        worker = await run_a_job(server)
        assert is_running(worker)
    finally:
        await server.stop()
    assert not is_running(worker), server.output()
    assert f"worker pid {worker}: stopped" in server.output()


async def test_a_crashed_demo_does_not_leave_its_worker_behind(server: DemoServer) -> None:
    await server.start()
    try:
        worker = await run_a_job(server)
        await server.kill_server_only()
        await wait_until_gone(worker)
    finally:
        await server.stop()
    assert f"worker pid {worker}: stdin closed, stopping" in server.output()


async def test_an_unreachable_redis_url_stops_the_demo_with_what_to_do() -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "demo",
        "--port",
        str(free_port()),
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 1
    assert f"REDIS_URL={url} is set but Redis does not answer there" in output.decode()
    assert "unset it to run on the in-memory layer" in output.decode()


async def start_a_job_and_let_it_run(server: DemoServer) -> tuple[str, int]:
    """Start a job over a WebSocket and wait until it has made progress, not finished;
    the job's id and the pid of the worker process that runs it."""
    ws_url = server.url.replace("http://", "ws://") + "/ws/events"
    async with connect(ws_url) as events, httpx.AsyncClient() as http:
        hello = json.loads(await events.recv())
        response = await http.post(f"{server.url}/jobs", json={"channel": hello["channel"]})
        assert response.status_code == 202
        job: str = response.json()["job"]
        while True:
            event = json.loads(await events.recv())
            if event.get("kind") == "job" and event["percent"] >= 10:
                break
    assert not event["done"], "the job ended before the test could stop the demo"
    match = re.fullmatch(r"worker pid (\d+)", event["worker"])
    assert match, event
    return job, int(match[1])


async def what_a_returning_page_hears(server: DemoServer, job: str) -> dict[str, Any]:
    """Follow ``job`` on a new connection, as a page does after a reconnect."""
    ws_url = server.url.replace("http://", "ws://") + "/ws/events"
    async with connect(ws_url) as events:
        assert json.loads(await events.recv())["kind"] == "hello"
        await events.send(json.dumps({"kind": "follow", "jobs": [job]}))
        update: dict[str, Any] = json.loads(await events.recv())
    return update


async def test_restarting_the_demo_mid_job_finishes_the_job_in_hand(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    server = DemoServer(tmp_path / "demo.log", redis_url=redis_server.url, job_step_seconds=0.2)
    await server.start()
    try:
        job, worker = await start_a_job_and_let_it_run(server)
        await server.stop()  # SIGTERM, as Ctrl-C or a deploy would
        assert not is_running(worker)
        await server.start()
        update = await what_a_returning_page_hears(server, job)
    finally:
        await server.stop()
    assert (update["percent"], update["done"], update.get("state")) == (100, True, "done")
    assert f"worker pid {worker}: stopping, finishing 1 job(s) in hand" in server.output()


async def test_a_job_that_outlasts_the_stop_grace_is_reported_lost(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    server = DemoServer(tmp_path / "demo.log", redis_url=redis_server.url, job_step_seconds=2)
    server.env[GRACE_ENV] = "0.5"
    await server.start()
    try:
        job, worker = await start_a_job_and_let_it_run(server)
        await server.stop()
        assert not is_running(worker)
        await server.start()
        update = await what_a_returning_page_hears(server, job)
    finally:
        await server.stop()
    assert (update["state"], update["done"]) == ("lost", False)
    assert update["percent"] >= 10
    assert update["reason"] == f"worker pid {worker} stopped before this job finished"
