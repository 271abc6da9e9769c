"""Throwaway redis-server / sentinel processes on free loopback ports, stopped by PID."""

from __future__ import annotations

import contextlib
import random
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


def free_cluster_port() -> int:
    """A free port for a cluster node: its cluster bus (port + 10000) free too, so both
    below 65536 (Redis refuses a node port over 55535)."""
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair (port, port + 10000) for a Redis Cluster node")


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


@dataclass
class RedisCluster:
    """A Redis Cluster we started: masters first, then their replicas, each its own process."""

    nodes: list[RedisProcess]
    masters: int

    @property
    def urls(self) -> list[str]:
        """Every node's URL (any of them works as a startup node)."""
        return [node.url for node in self.nodes]

    def stop(self) -> None:
        """Kill every node and reap it."""
        for node in self.nodes:
            node.stop()


def _cluster_info(port: int) -> dict[str, str]:
    """``CLUSTER INFO`` of one node, over redis-cli (no client library involved)."""
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "cluster", "info"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout
    return dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)


def _replicas_online(cluster: RedisCluster) -> bool:
    """Whether every live replica node reports its master link up."""
    for node in cluster.nodes[cluster.masters :]:
        if node.process.poll() is not None:
            continue
        out = subprocess.run(
            ["redis-cli", "-p", str(node.port), "info", "replication"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
        if "role:slave" in out and "master_link_status:up" not in out:
            return False
    return True


def wait_cluster_ok(cluster: RedisCluster, *, timeout: float = 30.0) -> None:
    """Wait until every live node says ``cluster_state:ok`` with all 16384 slots served."""
    deadline = time.monotonic() + timeout
    while True:
        infos = [_cluster_info(node.port) for node in cluster.nodes if node.process.poll() is None]
        if (
            infos
            and all(
                info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == "16384"
                for info in infos
            )
            and _replicas_online(cluster)
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis Cluster not ok within {timeout}s: {infos}")
        time.sleep(0.1)


def start_cluster(
    *, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000
) -> RedisCluster:
    """Start ``masters`` x (1 + ``replicas``) cluster-enabled redis-servers on free ports and
    join them with ``redis-cli --cluster create``; returns once every slot is served."""
    nodes: list[RedisProcess] = []
    try:
        for _ in range(masters * (1 + replicas)):
            nodes.append(
                start_redis(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    str(node_timeout_ms),
                    port=free_cluster_port(),
                )
            )
        create = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in nodes),
                "--cluster-replicas",
                str(replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout}{create.stderr}")
        cluster = RedisCluster(nodes=nodes, masters=masters)
        wait_cluster_ok(cluster)
        return cluster
    except BaseException:
        for node in nodes:
            node.stop()
            shutil.rmtree(node.workdir, ignore_errors=True)
        raise


@contextlib.contextmanager
def running_cluster(*, masters: int = 3, replicas: int = 1) -> Generator[RedisCluster]:
    """A Redis Cluster (3 masters + 3 replicas by default) for the duration of the block."""
    cluster = start_cluster(masters=masters, replicas=replicas)
    try:
        yield cluster
    finally:
        cluster.stop()
        for node in cluster.nodes:
            shutil.rmtree(node.workdir, ignore_errors=True)
