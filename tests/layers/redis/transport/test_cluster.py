"""The Redis Cluster transport against a real cluster (3 masters, 3 replicas): buckets on
slots spread over the masters, redirects followed, a failover and a slot migration under
traffic survived, with every call answered or failed with a typed error."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import cast

import pytest
from redis.exceptions import AskError, ClusterDownError, MovedError, ResponseError, TryAgainError

from fast_channels.exceptions import ConfigurationError, FastChannelsError
from fast_channels.layers.redis.transport import ClusterTransport, Subscriptions
from fast_channels.layers.redis.transport.cluster import (
    SLOTS,
    ClusterLink,
    Redirect,
    cluster_tags,
    redirection,
    slot_of,
)
from tests.layers.redis.queue_helpers import prefix_for
from tests.layers.redis.transport.conftest import (
    INCR,
    OPTIONS,
    PUSH,
    SCRIPTS,
    SET,
    RecordingSink,
    cluster_startup,
    eventually,
)
from tests.servers import RedisCluster, wait_cluster_ok

pytestmark = pytest.mark.redis


def test_each_bucket_has_a_hash_tag_in_its_own_share_of_the_slots() -> None:
    for buckets in (1, 3, 16, 100):
        tags = cluster_tags(buckets)
        assert len(tags) == buckets
        for bucket, tag in enumerate(tags):
            assert tag.startswith("{")
            assert tag.endswith("}:")
            slot = slot_of(f"asgi:{tag}in:token")
            assert bucket * SLOTS // buckets <= slot < (bucket + 1) * SLOTS // buckets
            assert slot_of(f"other:{tag}g:room") == slot


@pytest.mark.parametrize("buckets", [0, 1025, True, "16"])
def test_a_bucket_count_out_of_range_is_refused(buckets: object) -> None:
    with pytest.raises(ConfigurationError, match="buckets"):
        ClusterTransport([("127.0.0.1", 7000)], buckets=cast(int, buckets))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MovedError("12 10.0.0.1:7000"), Redirect("MOVED", 12, "10.0.0.1", 7000)),
        (AskError("12 10.0.0.1:7000"), Redirect("ASK", 12, "10.0.0.1", 7000)),
        (ResponseError("MOVED 3999 127.0.0.1:30001"), Redirect("MOVED", 3999, "127.0.0.1", 30001)),
        (ResponseError("ASK 3999 127.0.0.1:30001"), Redirect("ASK", 3999, "127.0.0.1", 30001)),
        (TryAgainError("Multiple keys request during rehashing of slot"), Redirect("TRYAGAIN")),
        (ClusterDownError("The cluster is down"), Redirect("CLUSTERDOWN")),
        (ResponseError("TRYAGAIN Multiple keys"), Redirect("TRYAGAIN")),
        (ResponseError("CLUSTERDOWN Hash slot not served"), Redirect("CLUSTERDOWN")),
        (ResponseError("ERR unknown command"), None),
        (ResponseError("MOVED nonsense"), None),
        (ValueError("MOVED 1 h:1"), None),
        (None, None),
    ],
)
def test_redirections_are_read_from_redis_py_errors_and_plain_replies(
    error: BaseException | None, expected: Redirect | None
) -> None:
    assert redirection(error) == expected


# -- the live cluster ---------------------------------------------------------------------


@dataclass
class NodeInfo:
    id: str
    port: int
    master: bool
    slots: list[tuple[int, int]]


def cli(port: int, *args: object) -> str:
    """One redis-cli command on the node at ``port`` (no client library involved)."""
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout.strip()


def topology(cluster: RedisCluster) -> list[NodeInfo]:
    """What a live node says about every node (``CLUSTER NODES``), failed ones left out."""
    port = next(node.port for node in cluster.nodes if node.process.poll() is None)
    nodes: list[NodeInfo] = []
    for line in cli(port, "CLUSTER", "NODES").splitlines():
        fields = line.split()
        if "fail" in fields[2]:
            continue
        slots: list[tuple[int, int]] = []
        for part in fields[8:]:
            if part.startswith("["):
                continue
            low, _, high = part.partition("-")
            slots.append((int(low), int(high or low)))
        port_of = int(fields[1].split(":")[1].split("@")[0])
        nodes.append(NodeInfo(fields[0], port_of, "master" in fields[2], slots))
    return nodes


def owner(cluster: RedisCluster, slot: int) -> NodeInfo:
    return next(
        node
        for node in topology(cluster)
        if node.master and any(low <= slot <= high for low, high in node.slots)
    )


async def move_slot(
    cluster: RedisCluster,
    slot: int,
    target: NodeInfo,
    *,
    while_migrating: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Migrate ``slot`` to ``target`` as ``redis-cli --cluster reshard`` does: mark it
    importing and migrating, MIGRATE its keys, then give it to ``target`` everywhere."""
    source = owner(cluster, slot)
    masters = [node for node in topology(cluster) if node.master]
    await asyncio.to_thread(cli, target.port, "CLUSTER", "SETSLOT", slot, "IMPORTING", source.id)
    await asyncio.to_thread(cli, source.port, "CLUSTER", "SETSLOT", slot, "MIGRATING", target.id)
    if while_migrating is not None:
        await while_migrating()
    while True:
        keys = (
            await asyncio.to_thread(cli, source.port, "CLUSTER", "GETKEYSINSLOT", slot, 100)
        ).split()
        if not keys:
            break
        await asyncio.to_thread(
            cli, source.port, "MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys
        )
    others = [node for node in masters if node.id not in (target.id, source.id)]
    for node in [target, source, *others]:
        await asyncio.to_thread(cli, node.port, "CLUSTER", "SETSLOT", slot, "NODE", target.id)


@contextlib.asynccontextmanager
async def cluster_link(
    cluster: RedisCluster,
) -> AsyncGenerator[tuple[ClusterLink, Subscriptions, RecordingSink]]:
    link = ClusterTransport(cluster_startup(cluster), options=OPTIONS).link(scripts=SCRIPTS)
    sink = RecordingSink()
    subscriptions = link.subscriptions(sink)
    try:
        yield link, subscriptions, sink
    finally:
        await subscriptions.aclose()
        await link.aclose()


async def test_the_buckets_spread_over_every_master(redis_cluster: RedisCluster) -> None:
    async with cluster_link(redis_cluster) as (link, _, _):
        await link.refresh()
        serving = {link.where(bucket) for bucket in range(link.placement.buckets)}
        masters = {f"127.0.0.1:{node.port}" for node in topology(redis_cluster) if node.master}
        assert serving == masters


class Traffic:
    """A task calling ``call`` again and again until stopped; every call either returns
    or raises a typed error, and both are counted."""

    def __init__(self, call: Callable[[], Awaitable[object]]) -> None:
        self.call = call
        self.ok = 0
        self.failed: list[FastChannelsError] = []
        self.attempts = 0
        self.last_ok = 0.0
        self._stopping = False
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while not self._stopping:
            self.attempts += 1
            try:
                await self.call()
            except FastChannelsError as exc:
                self.failed.append(exc)
                await asyncio.sleep(0.02)
            else:
                self.ok += 1
                self.last_ok = time.monotonic()
            await asyncio.sleep(0)

    async def stop(self) -> None:
        """Let the call under way end, then stop; every call was counted one way or the other."""
        self._stopping = True
        await self._task
        assert self.ok + len(self.failed) == self.attempts


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_killed_master_is_replaced_by_its_replica_and_the_link_follows(
    redis_cluster: RedisCluster, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    async with cluster_link(redis_cluster) as (link, subscriptions, sink):
        bucket = 0
        keys = link.placement.key_prefix(prefix, bucket)
        channel = f"{keys}c:failover".encode()
        await subscriptions.subscribe(channel, bucket)
        old = link.where(bucket)
        victim = next(node for node in redis_cluster.nodes if f"127.0.0.1:{node.port}" == old)
        traffic = Traffic(lambda: link.script(bucket, INCR, (f"{keys}count",), ()))
        await eventually(lambda: traffic.ok > 0)
        victim.stop()
        killed = time.monotonic()
        try:
            await eventually(
                lambda: link.where(bucket) != old and traffic.last_ok > killed, within=60
            )
            recovery = traffic.last_ok - killed
            request.node.user_properties.append(("recovery_seconds", round(recovery, 2)))
            await eventually(lambda: sink.resynced(channel), within=30)
            await eventually(lambda: subscriptions.holds(channel))
            assert await link.publish(bucket, channel, b"after") == 1
            await eventually(lambda: sink.got(channel, b"after"))
            await traffic.stop()
            assert all(
                type(error).__name__ in ("LayerConnectionError", "BackendRefusedError")
                for error in traffic.failed
            )
            assert link.statistics()["refreshes"] >= 2
        finally:
            await traffic.stop()
            victim.start()  # it comes back as a replica of the promoted one
            await asyncio.to_thread(wait_cluster_ok, redis_cluster, timeout=60)
        await link.delete_matching(f"{prefix}:*")


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_slot_migrated_under_traffic_is_followed_without_losing_an_entry(
    redis_cluster: RedisCluster, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    async with cluster_link(redis_cluster) as (link, subscriptions, sink):
        bucket = 1
        keys = link.placement.key_prefix(prefix, bucket)
        slot = slot_of(keys)
        inbox, early, channel = f"{keys}inbox", f"{keys}early", f"{keys}c:moving".encode()
        await link.script(bucket, SET, (early,), ("1",))
        await subscriptions.subscribe(channel, bucket)
        source = owner(redis_cluster, slot)
        target = next(
            node for node in topology(redis_cluster) if node.master and node.id != source.id
        )
        popped: list[bytes] = []
        pop = link.pop(bucket, inbox, block=0.05)

        async def read() -> None:
            while True:
                with contextlib.suppress(FastChannelsError, ResponseError, ConnectionError):
                    popped.extend(await pop.pop(10))

        pushed: list[bytes] = []

        async def push() -> None:
            entry = b"e%d" % len(pushed)
            await link.script(bucket, PUSH, (inbox,), (entry,))
            pushed.append(entry)

        reader = asyncio.ensure_future(read())
        traffic = Traffic(push)

        async def while_migrating() -> None:
            await asyncio.to_thread(
                cli,
                source.port,
                "MIGRATE",
                "127.0.0.1",
                target.port,
                "",
                0,
                5000,
                "KEYS",
                early,
                inbox,
            )
            # The keys left: the source answers ASK, and the importing node serves them, to
            # a script, a queued script and the blocking pop alike.
            assert await link.script(bucket, SET, (early,), ("2",)) == b"2"
            assert await link.submit(bucket, SET, (early,), ("3",)) == b"3"
            count = len(pushed)
            await eventually(lambda: len(popped) >= count + 10)
            assert link.statistics()["asked"] >= 3

        try:
            await eventually(lambda: len(pushed) >= 20)
            await move_slot(redis_cluster, slot, target, while_migrating=while_migrating)
            await eventually(lambda: link.where(bucket) == f"127.0.0.1:{target.port}")
            await eventually(lambda: sink.resynced(channel))
            assert "slot moved" in next(
                reason for names, reason in sink.resyncs if channel in names
            )
            await eventually(lambda: subscriptions.holds(channel))
            assert await link.publish(bucket, channel, b"after the move") == 1
            await eventually(lambda: sink.got(channel, b"after the move"))
            count = len(pushed)
            await eventually(lambda: len(pushed) >= count + 20)
            await traffic.stop()
            await eventually(lambda: len(popped) == len(pushed))
            assert popped == pushed  # each entry once, in order
            assert traffic.failed == []
            stats = link.statistics()
            assert stats["moved"] >= 1
            assert subscriptions.statistics()["moves"] >= 1
        finally:
            await traffic.stop()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await pop.release()
            await move_slot(redis_cluster, slot, source)
            await asyncio.to_thread(wait_cluster_ok, redis_cluster, timeout=60)
        await link.delete_matching(f"{prefix}:*")
