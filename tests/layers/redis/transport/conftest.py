"""Fixtures of the transport tests: every transport against its real servers."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

import pytest

from fast_channels.layers.redis._pipe import Script
from fast_channels.layers.redis.transport import (
    ClientShards,
    ClusterTransport,
    Link,
    PoolOptions,
    SentinelTransport,
    SingleNode,
    Transport,
)
from tests.layers.redis.queue_helpers import raw
from tests.servers import RedisCluster, RedisProcess


def script(name: str, source: str) -> Script:
    """A script of the tests (not shipped in the package)."""
    return Script(name, source, hashlib.sha1(source.encode()).hexdigest())


SET = script("set", "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])")
"""Set KEYS[1] to ARGV[1]; returns it."""
PUSH = script("push", "return redis.call('RPUSH', KEYS[1], unpack(ARGV))")
"""Push ARGV onto list KEYS[1]; returns its length."""
INCR = script("incr", "return redis.call('INCR', KEYS[1])")
"""Count up KEYS[1]; returns the count."""
SCRIPTS = (SET, PUSH, INCR)

OPTIONS = PoolOptions(socket_timeout=2.0, pool_timeout=5.0)


async def eventually(condition: Callable[[], bool], *, within: float = 20.0) -> None:
    """Wait until ``condition()`` holds (polled), at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {condition}")
        await asyncio.sleep(0.02)


@dataclass
class RecordingSink:
    """A sink that keeps what the subscriptions hand it."""

    messages: list[tuple[bytes, bytes]] = field(default_factory=list[tuple[bytes, bytes]])
    resyncs: list[tuple[frozenset[bytes], str]] = field(
        default_factory=list[tuple[frozenset[bytes], str]]
    )

    def deliver(self, channel: bytes, data: bytes) -> None:
        self.messages.append((channel, data))

    def resync(self, channels: frozenset[bytes], reason: str) -> None:
        self.resyncs.append((channels, reason))

    def got(self, channel: bytes, data: bytes) -> bool:
        return (channel, data) in self.messages

    def resynced(self, channel: bytes) -> bool:
        return any(channel in channels for channels, _ in self.resyncs)


@dataclass
class Setup:
    """A transport under test, and how to reach the server serving a bucket directly."""

    name: str
    transport: Transport
    server_of: Callable[[Link, int], str]
    sentinel_url: str = ""

    async def url(self, link: Link, bucket: int) -> str:
        """The URL of the server that serves ``bucket`` now."""
        if self.sentinel_url:
            reply = cast(
                list[bytes],
                await raw(self.sentinel_url, "SENTINEL", "get-master-addr-by-name", "mymaster"),
            )
            return f"redis://{reply[0].decode()}:{reply[1].decode()}"
        return self.server_of(link, bucket)


def cluster_startup(cluster: RedisCluster) -> list[tuple[str, int]]:
    """Every live node of ``cluster`` as a startup node."""
    return [("127.0.0.1", node.port) for node in cluster.nodes if node.process.poll() is None]


@pytest.fixture(params=["single", "shards", "sentinel", "cluster"])
def setup(request: pytest.FixtureRequest) -> Iterator[Setup]:
    """Each transport in turn, on its own servers."""
    kind: str = request.param
    if kind == "single":
        server: RedisProcess = request.getfixturevalue("redis_server")
        yield Setup(
            kind,
            SingleNode({"host": "127.0.0.1", "port": server.port}, options=OPTIONS),
            lambda link, bucket: server.url,
        )
    elif kind == "shards":
        servers: list[RedisProcess] = [
            request.getfixturevalue("redis_server"),
            request.getfixturevalue("redis_server_2"),
        ]
        shards = ClientShards(
            [{"host": "127.0.0.1", "port": s.port} for s in servers], options=OPTIONS
        )
        yield Setup(kind, shards, lambda link, bucket: servers[bucket].url)
    elif kind == "sentinel":
        sentinel: RedisProcess = request.getfixturevalue("redis_sentinel")
        watched = SentinelTransport([("127.0.0.1", sentinel.port)], "mymaster", options=OPTIONS)
        yield Setup(kind, watched, lambda link, bucket: "", sentinel_url=sentinel.url)
    else:
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        transport = ClusterTransport(cluster_startup(cluster), options=OPTIONS)
        yield Setup(kind, transport, lambda link, bucket: f"redis://{link.where(bucket)}")
