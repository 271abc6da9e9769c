"""Run one matrix cell: start the server process, run every check, stop it, record.

The server runs in the cell's virtualenv, in its own session (process group) so that a
server with worker processes (granian) is stopped whole; it is stopped by its process
group id, first with SIGTERM (graceful: what a connected client then sees is recorded),
then with SIGKILL if it has not exited in :data:`STOP_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import IO

from tests.matrix.checks import CHECK_SECONDS, CHECKS, Mismatch, shutdown_close
from tests.matrix.envs import MATRIX_DIR, ROOT, Environment
from tests.matrix.known import difference_for
from tests.matrix.plan import Cell
from tests.matrix.results import CellResult, CheckResult, Status

START_SECONDS = 60.0
STOP_SECONDS = 20.0
LOGS = MATRIX_DIR / "logs"


class ServerFailed(Exception):
    """The server process did not serve (it exited, or never listened)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 12) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ServerProcess:
    """A server serving one framework app on a free loopback port."""

    def __init__(self, cell: Cell, env: Environment, log: IO[bytes], log_path: Path) -> None:
        self.port = _free_port()
        self.log_path = log_path
        command = [str(env.executable), *cell.server.command(cell.framework.app, self.port)]
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def wait_listening(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not _listening(self.port):
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"the server exited with {self.process.returncode}:\n{_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise ServerFailed(f"nothing listened within {START_SECONDS:.0f} s")
            await asyncio.sleep(0.1)

    def terminate(self) -> None:
        """SIGTERM to the server's process group (a graceful stop)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    async def stop(self) -> str:
        """Stop it for good; how it ended ("exit 0", or "killed after 20 s")."""
        self.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await asyncio.to_thread(self.process.wait)
            return f"killed after {STOP_SECONDS:.0f} s"
        return f"exit {self.process.returncode}"


@contextlib.contextmanager
def _log_file(cell: Cell) -> Generator[tuple[IO[bytes], Path]]:
    LOGS.mkdir(parents=True, exist_ok=True)
    path = LOGS / f"{cell.env}-{cell.framework.name}-{cell.server.name}.log"
    with path.open("wb") as log:
        yield log, path


async def _run_check(run: Callable[[str], Awaitable[str]], base: str) -> tuple[bool, str]:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            observed = await run(base)
    except Mismatch as mismatch:
        return False, str(mismatch)
    except TimeoutError:
        return False, f"no answer within {CHECK_SECONDS:.0f} s"
    except Exception as exc:  # a check reports any failure; the run goes on
        return False, f"{type(exc).__name__}: {exc}"
    return True, observed


async def run_cell(cell: Cell, env: Environment) -> CellResult:
    """Serve the cell's app, run every check against it, stop the server."""
    started = time.monotonic()
    checks: dict[str, CheckResult] = {}
    error: str | None = None
    shutdown = ""
    with _log_file(cell) as (log, log_path):
        server = ServerProcess(cell, env, log, log_path)
        try:
            await server.wait_listening()
            for check in CHECKS:
                ok, observed = await _run_check(check.run, server.base)
                status: Status = "pass"
                if not ok:
                    known = difference_for(
                        check.name, cell.server.name, cell.framework.name, observed
                    )
                    status = "differs" if known else "fail"
                checks[check.name] = {"status": status, "observed": observed}
            ok, shutdown = await _run_check(
                lambda base: shutdown_close(server.terminate, base), server.base
            )
            if not ok:
                shutdown = f"no close frame: {shutdown}"
        except ServerFailed as failed:
            error = str(failed)
        finally:
            stopped = await server.stop()
    return {
        "python": cell.python,
        "framework": cell.framework.name,
        "server": cell.server.name,
        "env": cell.env,
        "seconds": round(time.monotonic() - started, 1),
        "error": error,
        "checks": checks,
        "shutdown": shutdown,
        "stopped": stopped,
    }
