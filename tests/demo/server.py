"""The demo served by ``python -m demo`` in a subprocess we start, stop and restart by PID."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import httpx

from demo.jobs import STEP_SECONDS_ENV
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


class DemoServer:
    """``python -m demo`` on a free loopback port (plus its worker process with Redis)."""

    def __init__(
        self,
        log: Path,
        *,
        redis_url: str | None = None,
        job_step_seconds: float | None = None,
    ) -> None:
        self.port = free_port()
        self.log = log
        ours = {"REDIS_URL", STEP_SECONDS_ENV}
        self.env = {k: v for k, v in os.environ.items() if k not in ours}
        self.env["PYTHONUNBUFFERED"] = "1"
        if redis_url is not None:
            self.env["REDIS_URL"] = redis_url
        if job_step_seconds is not None:
            self.env[STEP_SECONDS_ENV] = str(job_step_seconds)
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the server (on the same port every time) and wait until it answers."""
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "demo",
                "--port",
                str(self.port),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        await self._wait_ready(self.process)

    async def _wait_ready(self, process: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"the demo exited ({process.returncode}):\n{self.output()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/info")).status_code == 200:
                        return
                if loop.time() > deadline:
                    raise RuntimeError(f"no answer in {READY_TIMEOUT}s:\n{self.output()}")
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """SIGTERM (a graceful shutdown: it stops its worker too) and wait for the exit.

        If it hangs, SIGKILL its process group (the server and its worker) while the
        server is not reaped yet, so the group id cannot have been reused.
        """
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    async def kill_server_only(self) -> None:
        """SIGKILL the web server alone (a crash), leaving its worker to notice by itself."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            await process.wait()

    def output(self) -> str:
        """What the server (and worker) printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""
