"""Under daphne, which refuses close codes other than 1000 and 3000-4999 from the app:
a consumer closing with 1003/1007 falls back to 1000, an error still reaches the client as
1011, and ``disconnect()`` runs every time.

Real parts: a daphne process serving :mod:`tests.e2e.daphne_app`, the ``websockets`` client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from fast_channels.status import CloseCode
from tests.e2e.client import closed_with, recv_json
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

# In the dev extra; the run against the oldest supported frameworks does not install it.
pytest.importorskip("daphne", reason="daphne is not installed (pip install -e '.[dev]')")


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode} before serving")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not listen on {port} in {timeout}s") from None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def daphne_url() -> Iterator[str]:
    """A daphne process serving the test application; stopped by its PID afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "tests.e2e.daphne_app:application",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
async def watcher(daphne_url: str) -> AsyncIterator[ClientConnection]:
    """A client that receives each consumer's disconnect report ("bye <code>")."""
    async with connect(f"{daphne_url}/ws/watch") as ws:
        yield ws


@pytest.mark.parametrize(
    "frame", ["{not json", b"\x00binary"], ids=["malformed-1007", "binary-1003"]
)
async def test_bad_input_closes_with_1000_and_disconnect_runs(
    daphne_url: str, watcher: ClientConnection, frame: str | bytes
) -> None:
    async with connect(f"{daphne_url}/ws/json") as ws:
        await ws.send(json.dumps("fine"))
        assert await recv_json(ws) == "fine"
        await ws.send(frame)
        code, _ = await closed_with(ws)
    assert code == CloseCode.NORMAL_CLOSURE  # daphne refuses 1007 and 1003: the fallback
    assert str(await asyncio.wait_for(recv_json(watcher), 10)).startswith("bye ")


async def test_an_error_still_closes_with_1011_and_disconnect_runs(
    daphne_url: str, watcher: ClientConnection
) -> None:
    async with connect(f"{daphne_url}/ws/json") as ws:
        await ws.send(json.dumps("crash"))
        assert await asyncio.wait_for(recv_json(watcher), 10) == "bye 1011"
        code, _ = await asyncio.wait_for(closed_with(ws), 10)
    assert code == CloseCode.INTERNAL_ERROR  # sent by daphne itself on the app's error
