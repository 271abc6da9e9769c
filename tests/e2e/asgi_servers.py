"""ASGI servers as child processes: daphne, hypercorn or uvicorn serving ``"module:app"``.

``conftest.serve`` runs uvicorn in the test's event loop (so the test can share a layer
with the app, and coverage sees the app's code); a child process is the server as users
run it, the only way for daphne (Twisted cannot share an asyncio loop). The process
listens on a free loopback port and is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Literal

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
"""Longest wait for a server to listen: a safety net for a hung start, never a measurement."""

Server = Literal["daphne", "hypercorn", "uvicorn"]


def server_command(server: Server, target: str, port: int) -> list[str]:
    """The command line serving ``target`` (``"module:app"``) on ``127.0.0.1:port``."""
    python = sys.executable
    if server == "daphne":
        return [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), target]
    if server == "hypercorn":
        return [python, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", target]
    return [python, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), target]


def _inherited_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    """Return once ``process`` accepts TCP connections on ``port``; fail if it exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}) before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"nothing listens on port {port} after {START_TIMEOUT}s"
                ) from None
            time.sleep(0.05)


@contextlib.contextmanager
def running_server(
    server: Server, target: str, *, env: Mapping[str, str] | None = None
) -> Generator[str]:
    """``server`` serving ``target`` from the repository root; yields ``ws://host:port``.

    ``env`` adds environment variables (e.g. ``REDIS_URL``) to this process's, less
    ``DJANGO_SETTINGS_MODULE``: a Django app module names its own settings, and the one an
    app imported into the test process set must not leak into another.

    Stopped with SIGTERM (SIGKILL if still there after 10 s). Its output is shown if it
    fails to start.
    """
    port = free_port()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            server_command(server, target, port),
            cwd=ROOT,
            env={**_inherited_environment(), **(env or {})},
            stdout=output,
            stderr=output,
        )
        try:
            try:
                _wait_listening(port, process)
            except RuntimeError as exc:
                output.seek(0)
                said = output.read().decode(errors="replace")
                raise RuntimeError(f"{exc}; {server} said:\n{said}") from None
            yield f"ws://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
