"""Real processes for the worker tests: uvicorn servers and ``fast-channels worker``s."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0
"""Longest wait for a log line: a safety net for a hung process, never a measurement."""


class Process:
    """A child process whose output (stdout and stderr) is read line by line."""

    def __init__(self, args: list[str], *, redis_url: str) -> None:
        env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
        self.args = args
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        stdout = self.popen.stdout
        if stdout is not None:
            for line in stdout:
                self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for(self, text: str) -> str:
        """The next output line containing ``text``; fails if the process ends first."""
        while True:
            try:
                line = self._lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} from {self.args}") from None
            if line is None:
                raise AssertionError(
                    f"{self.args} ended ({self.popen.wait()}) before printing {text!r}:\n"
                    + "\n".join(self.output)
                )
            self.output.append(line)
            if text in line:
                return line

    def signal(self, signum: signal.Signals) -> None:
        self.popen.send_signal(signum)

    def wait(self) -> int:
        """Wait for the exit status (SIGKILL after ``WAIT`` seconds)."""
        try:
            return self.popen.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(WAIT)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def start_worker(redis_url: str, *extra: str) -> Process:
    """``python -m fast_channels worker thumbnails`` with the tests' consumer, once ready."""
    args = [
        sys.executable,
        "-m",
        "fast_channels",
        "worker",
        "thumbnails",
        "--app",
        "tests.worker.apps:ThumbnailConsumer",
        "--setup",
        "tests.worker.apps:redis_setup",
        *extra,
    ]
    worker = Process(args, redis_url=redis_url)
    worker.wait_for("receiving from 'thumbnails'")
    return worker


def start_server(redis_url: str) -> tuple[Process, int]:
    """uvicorn serving docs/examples/http_endpoint_fastapi.py on a free port, once ready."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "docs.examples.http_endpoint_fastapi:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = Process(args, redis_url=redis_url)
    server.wait_for("Application startup complete")
    return server, port
