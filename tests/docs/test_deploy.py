"""The deployment files are real: valid, and their command lines serve the example app.

``deploy/docker-compose.yml`` and ``deploy/kubernetes.yaml`` are parsed, and the web and
worker command lines they give are run here — without Docker or Kubernetes, as local
processes against a throwaway redis-server (Compose) or Redis Sentinel (Kubernetes) —
then a WebSocket client follows a job through the worker, and the probes are asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncGenerator, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml
from websockets.asyncio.client import connect

from tests.docs.pages import ROOT
from tests.servers import RedisProcess, free_port

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
KUBERNETES = DEPLOY / "kubernetes.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
BIN = Path(sys.executable).parent
START_SECONDS = 40.0


def compose() -> dict[str, Any]:
    loaded: object = yaml.safe_load(COMPOSE.read_text())
    if not isinstance(loaded, dict):
        raise TypeError(f"{COMPOSE} is not a mapping")
    return cast(dict[str, Any], loaded)


def manifests() -> dict[str, dict[str, Any]]:
    """The Kubernetes objects by ``Kind/name``."""
    objects: dict[str, dict[str, Any]] = {}
    for document in yaml.safe_load_all(KUBERNETES.read_text()):
        if not isinstance(document, dict):
            raise TypeError(f"{KUBERNETES} holds a document that is not a mapping")
        item = cast(dict[str, Any], document)
        objects[f"{item['kind']}/{item['metadata']['name']}"] = item
    return objects


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# -- the files ----------------------------------------------------------------------------


def test_compose_file_has_redis_web_and_worker_wired_together() -> None:
    services: dict[str, Any] = compose()["services"]
    assert set(services) == {"redis", "web", "worker"}
    assert services["redis"]["image"].startswith("redis:")
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in ("web", "worker"):
        service = services[name]
        build = service["build"]
        assert (DEPLOY / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
        assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["stop_grace_period"]
    assert services["web"]["ports"] == ["8000:8000"]


def test_the_image_copies_what_exists_and_serves_the_example_app() -> None:
    instructions = [
        line.split(maxsplit=1)
        for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [args.split() for op, args in instructions if op == "COPY"]
    assert copies
    for *sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"deploy/Dockerfile copies {source}: missing"
    command = json.loads(next(args for op, args in instructions if op == "CMD"))
    assert command[:2] == ["uvicorn", "docs.examples.deploy_app:app"]


def test_kubernetes_manifests_probe_the_app_and_give_workers_time() -> None:
    objects = manifests()
    assert set(objects) == {
        "ConfigMap/fast-channels-example",
        "Deployment/web",
        "Deployment/worker",
        "Service/web",
    }
    web = container(objects["Deployment/web"])
    assert web["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8000}
    assert web["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8000}
    assert objects["Service/web"]["spec"]["ports"][0]["targetPort"] == 8000
    worker_spec = objects["Deployment/worker"]["spec"]["template"]["spec"]
    assert worker_spec["terminationGracePeriodSeconds"] >= 60
    config = objects["ConfigMap/fast-channels-example"]["data"]
    assert set(config) == {"REDIS_SENTINELS", "REDIS_SERVICE_NAME"}


# -- running their command lines ----------------------------------------------------------


def _local(command: list[str], port: int) -> list[str]:
    """A container's command as a local process: this venv's executable, loopback, ``port``."""
    program, *args = command
    args = [arg.replace("0.0.0.0", "127.0.0.1").replace("8000", str(port)) for arg in args]
    return [str(BIN / program), *args]


class Processes:
    """Processes this test started, stopped by their pid (SIGTERM, then SIGKILL)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: list[str], env: Mapping[str, str]) -> int:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            self.running[name] = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
            )
        return self.running[name].pid

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.log(name)}")

    def stop(self, name: str) -> int:
        process = self.running.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"{name} did not stop within 20 s of SIGTERM:\n{self.log(name)}")

    def stop_all(self) -> None:
        for name in list(self.running):
            with contextlib.suppress(Exception):
                self.stop(name)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


async def _until_ready(base: str, processes: Processes) -> None:
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(base_url=base) as client:
        while True:
            processes.check_alive()
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"{base}/readyz was not 200 within {START_SECONDS:.0f} s")
            await asyncio.sleep(0.2)


async def _job_goes_through_the_worker(port: int, worker_pid: int) -> None:
    """POST a job; a WebSocket client sees its progress, from the worker process."""
    job = uuid.uuid4().int % 1_000_000
    async with connect(f"ws://127.0.0.1:{port}/ws/updates", proxy=None) as ws:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            posted = await client.post("/thumbnails", json={"job": job, "image": "cat.png"})
            assert posted.status_code == 202
        percents: list[int] = []
        while 100 not in percents:
            event = json.loads(await ws.recv())
            if event["job"] == job:  # progress of other tests' jobs may pass by
                assert event["worker"] == worker_pid
                percents.append(event["percent"])
    assert percents == [0, 50, 100]


@contextlib.asynccontextmanager
async def _http(port: int) -> AsyncGenerator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        yield client


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.timeout(120)
async def test_compose_web_and_worker_commands_serve_a_job_end_to_end(
    redis_server: RedisProcess, processes: Processes
) -> None:
    services: dict[str, Any] = compose()["services"]
    port = free_port()
    env = {"REDIS_URL": f"{redis_server.url}/0"}
    assert services["web"]["command"][0] == "gunicorn"
    processes.start("web", _local(services["web"]["command"], port), env)
    worker_pid = processes.start("worker", _local(services["worker"]["command"], port), env)
    await _until_ready(f"http://127.0.0.1:{port}", processes)

    healthcheck = services["web"]["healthcheck"]["test"]
    assert healthcheck[0] == "CMD"
    probe = await asyncio.create_subprocess_exec(
        *_local(healthcheck[1:], port), stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await probe.communicate()
    assert probe.returncode == 0, stderr.decode()

    await _job_goes_through_the_worker(port, worker_pid)
    assert processes.stop("worker") == 0
    assert processes.stop("web") == 0


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.timeout(120)
async def test_kubernetes_commands_serve_a_job_over_sentinel_and_answer_the_probes(
    redis_sentinel: RedisProcess, processes: Processes
) -> None:
    objects = manifests()
    config: dict[str, str] = dict(objects["ConfigMap/fast-channels-example"]["data"])
    assert config["REDIS_SENTINELS"] == "redis:26379"
    env = {**config, "REDIS_SENTINELS": f"127.0.0.1:{redis_sentinel.port}"}
    port = free_port()
    web = container(objects["Deployment/web"])
    worker = container(objects["Deployment/worker"])
    processes.start("web", _local(web["command"], port), env)
    worker_pid = processes.start("worker", _local(worker["command"], port), env)
    await _until_ready(f"http://127.0.0.1:{port}", processes)

    async with _http(port) as client:
        for probe in ("livenessProbe", "readinessProbe"):
            response = await client.get(web[probe]["httpGet"]["path"])
            assert response.status_code == 200, (probe, response.text)

    await _job_goes_through_the_worker(port, worker_pid)
    assert processes.stop("worker") == 0
    assert processes.stop("web") in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
