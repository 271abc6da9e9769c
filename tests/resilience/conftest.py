"""Fixtures of the resilience suite: Redis servers a test may kill, a Sentinel cluster."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast

import pytest
import redis

from tests.resilience.runner import Traffic
from tests.servers import RedisProcess, start_redis, start_sentinel

SERVICE = "mymaster"


@contextlib.contextmanager
def _owned(*servers: RedisProcess) -> Generator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def killable_redis() -> Iterator[RedisProcess]:
    """A redis-server of this test only, persisting every write to its append-only file
    before answering, so a restart (even after SIGKILL) keeps what it had accepted."""
    server = start_redis("--appendonly", "yes", "--appendfsync", "always")
    with _owned(server):
        yield server


@dataclass
class SentinelCluster:
    master: RedisProcess
    replica: RedisProcess
    sentinels: list[RedisProcess]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def master_port(self) -> int:
        """The port of the master the first live sentinel names."""
        for sentinel in self.sentinels:
            with contextlib.suppress(redis.RedisError):
                host_port = _sentinel_command(sentinel, "GET-MASTER-ADDR-BY-NAME", SERVICE)
                return int(host_port[1])
        raise AssertionError("no sentinel answers")


class _SyncCommands(Protocol):
    def execute_command(self, *args: str) -> Any: ...


def _command(port: int, *args: str) -> Any:
    """One command on the server at ``port`` (redis-py's reply parsing, e.g. dicts)."""
    client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
    try:
        return cast(_SyncCommands, client).execute_command(*args)
    finally:
        client.close()


def _sentinel_command(sentinel: RedisProcess, *args: str) -> Any:
    return _command(sentinel.port, "SENTINEL", *args)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` every 50 ms until it is true; seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def sentinel_cluster() -> Iterator[SentinelCluster]:
    """A master, a replica and three sentinels (quorum 2, 1 s down-after), all discovered
    by each other, with the replica in sync."""
    master = start_redis("--appendonly", "yes", "--appendfsync", "always")
    replica = start_redis(
        "--appendonly", "yes", "--appendfsync", "always", "--replicaof", "127.0.0.1",
        str(master.port),
    )  # fmt: skip
    with _owned(master, replica):
        sentinels = [
            start_sentinel(master, quorum=2, down_after_ms=1000, failover_timeout_ms=3000)
            for _ in range(3)
        ]
        with _owned(*sentinels):
            cluster = SentinelCluster(master, replica, sentinels)

            def discovered() -> bool:
                for sentinel in sentinels:
                    info = _sentinel_command(sentinel, "MASTER", SERVICE)
                    if int(info["num-other-sentinels"]) < 2 or int(info["num-slaves"]) < 1:
                        return False
                return True

            def in_sync() -> bool:
                info = cast(dict[str, object], _command(replica.port, "INFO", "replication"))
                return info.get("master_link_status") == "up"

            wait_until(in_sync, 15, "the replica syncing with the master")
            wait_until(discovered, 15, "the sentinels discovering each other and the replica")
            yield cluster


@pytest.fixture
def traffic() -> Iterator[list[Traffic]]:
    """Traffic runs a test starts; their processes are killed at the end if still alive."""
    runs: list[Traffic] = []
    yield runs
    for run in runs:
        run.kill()
