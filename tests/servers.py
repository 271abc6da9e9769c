"""Throwaway redis-server / sentinel processes on free loopback ports, stopped by PID."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisProcess:
    """One redis-server (or sentinel) process we started."""

    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    args: list[str]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Kill the process (SIGKILL: a crash, as far as clients can tell) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def start(self) -> None:
        """(Re)start on the same port with the same arguments."""
        self.process = _spawn(self.args, self.workdir)
        _wait_ready(self.port, sentinel="--sentinel" in self.args)

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections stay open, nothing is answered."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused process run again (SIGCONT)."""
        self.process.send_signal(signal.SIGCONT)


def _spawn(args: list[str], workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(port: int, *, sentinel: bool = False, timeout: float = 10.0) -> None:
    """Wait until the server answers PING (a raw socket: no client library involved)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            kind = "sentinel" if sentinel else "redis-server"
            raise RuntimeError(f"{kind} on port {port} did not answer PING in {timeout}s")
        time.sleep(0.05)


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: scripts/test installs it")
    return binary


def start_redis(*extra: str, port: int | None = None) -> RedisProcess:
    """Start a redis-server that keeps nothing on disk, on a free (or given) port."""
    port = free_port() if port is None else port
    workdir = Path(tempfile.mkdtemp(prefix="fc-redis-"))
    args = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        *extra,
    ]
    proc = RedisProcess(port=port, process=_spawn(args, workdir), workdir=workdir, args=args)
    _wait_ready(port)
    return proc


def start_sentinel(
    master: RedisProcess,
    *,
    name: str = "mymaster",
    quorum: int = 1,
    down_after_ms: int = 1000,
    failover_timeout_ms: int = 3000,
) -> RedisProcess:
    """Start a ``redis-server --sentinel`` that watches ``master`` under ``name``."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="fc-sentinel-"))
    conf = workdir / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\n"
        f"sentinel monitor {name} 127.0.0.1 {master.port} {quorum}\n"
        f"sentinel down-after-milliseconds {name} {down_after_ms}\n"
        f"sentinel failover-timeout {name} {failover_timeout_ms}\n"
        f"sentinel parallel-syncs {name} 1\n"
    )
    args = [redis_server_binary(), str(conf), "--sentinel"]
    proc = RedisProcess(port=port, process=_spawn(args, workdir), workdir=workdir, args=args)
    _wait_ready(port, sentinel=True)
    return proc


@contextlib.contextmanager
def running_redis(*extra: str) -> Generator[RedisProcess]:
    """A redis-server for the duration of the block."""
    server = start_redis(*extra)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@contextlib.contextmanager
def running_sentinel(master: RedisProcess, *, name: str = "mymaster") -> Generator[RedisProcess]:
    """A sentinel watching ``master`` under ``name`` for the duration of the block."""
    sentinel = start_sentinel(master, name=name)
    try:
        yield sentinel
    finally:
        sentinel.stop()
        shutil.rmtree(sentinel.workdir, ignore_errors=True)
