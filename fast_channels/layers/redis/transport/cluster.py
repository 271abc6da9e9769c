"""A Redis Cluster: buckets on hash slots, sharded pub/sub, redirects and failovers followed.

**Placement.** A cluster transport has ``buckets`` buckets (16 by default; every process
must use the same number). Bucket ``b``'s keys and pub/sub channels carry a hash tag
(``{fc<n>}``, see :func:`cluster_tags`) whose slot lies in the ``b``-th of ``buckets``
equal slot ranges, so with the usual even split of slots the buckets spread evenly over
the masters, and every script of a layer (it touches keys of one bucket) touches one
slot. A process inbox, its counts, a group's membership for the members placed in that
bucket, a named channel's list: each lives in its bucket. A group fan-out is one script
per bucket, queued at once, so each master gets one round trip whatever the group's size.

**What redis-py does here.** Its :class:`~redis.asyncio.cluster.RedisCluster` learns the
slots (``CLUSTER SLOTS`` through any reachable node, falling back to the others) and is
asked again after a failover or a move; it also computes key slots. The layers' commands
do not go through its ``execute_command``: it has no automatic pipelining of concurrent
commands, its node pools fail instead of waiting when full, and it knows nothing of the
layers' scripts. Its ``ClusterPubSub`` is not used either: it reads the nodes' pub/sub
connections in turn with a polling timeout, where the layers want one reader task per
connection that wakes on every push. So this module adds what is missing: per-node
pipelined connections (``_pipe.CommandPipe``), and following redirects:

* ``MOVED``: the bucket's slot belongs to another master now: the command goes there, and
  the slots are learnt again in the background.
* ``ASK``: the slot is being migrated and the key already left: the command goes to the
  importing node once, preceded by ``ASKING``.
* ``TRYAGAIN`` / ``CLUSTERDOWN``: retried with a short backoff until ``socket_timeout``
  has passed since the call, then raised (``BackendRefusedError``).
* A node unreachable (killed, partitioned): the call raises ``LayerConnectionError`` as on
  one server (the command may have run), and the slots are learnt again, so calls go to
  the replica once it is promoted.

Blocking pops follow ``MOVED`` to the new owner and read what an ``ASK`` names with one
non-blocking ``LMPOP`` there. Sharded subscriptions (``SSUBSCRIBE``) follow the slots
too: a node that drops a subscription because its slot moved (a ``sunsubscribe`` nobody
asked for) or that stops answering makes the subscriptions learn the slots again and
subscribe on the owner, and report the gap (see ``_subscriber``).
"""

from __future__ import annotations

import asyncio
import binascii
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import BlockingConnectionPool, SSLConnection
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)

from fast_channels.exceptions import (
    BackendRefusedError,
    ConfigurationError,
    FastChannelsError,
    LayerConnectionError,
)
from fast_channels.layers.redis._connection import (
    REDIS_ERRORS,
    OutageLog,
    RawConnection,
    RawPool,
    discard_connection,
    redis_failure,
)
from fast_channels.layers.redis._pipe import Script, pack
from fast_channels.layers.redis._pop import BlockingPop
from fast_channels.layers.redis.transport._link import Node, NodeLink, Operation, PoolOptions
from fast_channels.layers.redis.transport.base import Placement, Pop

__all__ = ["SLOTS", "ClusterTransport", "Redirect", "cluster_tags", "redirection", "slot_of"]

logger: logging.Logger = logging.getLogger("fast_channels.layers.redis")

SLOTS = 16384
"""Hash slots of a Redis Cluster."""

MAX_BUCKETS = 1024
"""Most buckets a cluster transport takes (each then spans 16 slots)."""

_FAILURES: tuple[type[BaseException], ...] = (*REDIS_ERRORS, OSError)

KICK_EVERY = 0.1
"""Least seconds between two refreshes of the slots started by failing calls."""

MAX_HOPS = 16
"""Redirections one call follows before it gives up (two nodes disagreeing)."""

_CLIENT_KEYWORDS = frozenset(
    {
        "username",
        "password",
        "credential_provider",
        "client_name",
        "ssl_ca_certs",
        "ssl_ca_data",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_cert_reqs",
        "ssl_check_hostname",
    }
)


def slot_of(key: str | bytes) -> int:
    """The hash slot of ``key``: of its hash tag (``{...}``) if it has one."""
    data = key.encode("utf-8") if isinstance(key, str) else key
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return binascii.crc_hqx(data, 0) % SLOTS


@functools.cache
def cluster_tags(buckets: int) -> tuple[str, ...]:
    """Per bucket, the hash tag its keys carry (``"{fc<n>}:"``): the first ``fc<n>``
    whose slot lies in the bucket's share of the slots (the same in every process)."""
    tags: list[str] = []
    for bucket in range(buckets):
        low, high = bucket * SLOTS // buckets, (bucket + 1) * SLOTS // buckets
        n = 0
        while not low <= slot_of(b"fc%d" % n) < high:
            n += 1
        tags.append(f"{{fc{n}}}:")
    return tuple(tags)


@dataclass(frozen=True)
class Redirect:
    """What a cluster node answered instead of running a command."""

    kind: Literal["MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"]
    slot: int = -1
    host: str = ""
    port: int = 0


def redirection(error: BaseException | None) -> Redirect | None:
    """The redirection ``error`` is (redis-py's cluster errors, whose text lost the code,
    or the same replies read by a plain connection), or None."""
    if not isinstance(error, ResponseError):
        return None
    words = str(error).split()
    if isinstance(error, MovedError):
        words.insert(0, "MOVED")
    elif isinstance(error, AskError):
        words.insert(0, "ASK")
    elif isinstance(error, TryAgainError):
        return Redirect("TRYAGAIN")
    elif isinstance(error, ClusterDownError):
        return Redirect("CLUSTERDOWN")
    if len(words) == 3 and words[0] in ("MOVED", "ASK") and words[1].isdigit():
        host, _, port = words[2].rpartition(":")
        if port.isdigit():
            kind: Literal["MOVED", "ASK"] = "MOVED" if words[0] == "MOVED" else "ASK"
            return Redirect(kind, int(words[1]), host, int(port))
    if words[:1] == ["TRYAGAIN"]:
        return Redirect("TRYAGAIN")
    if words[:1] == ["CLUSTERDOWN"]:
        return Redirect("CLUSTERDOWN")
    return None


class ClusterTransport:
    """A Redis Cluster reached through ``startup_nodes`` ((host, port) pairs, any of its
    nodes; the others are discovered). ``options.connection_kwargs`` may hold a password,
    a user name and TLS settings, used for every node."""

    def __init__(
        self,
        startup_nodes: Sequence[tuple[str, int]],
        *,
        buckets: int = 16,
        options: PoolOptions | None = None,
    ) -> None:
        if not startup_nodes:
            raise ConfigurationError(
                "a Redis Cluster transport needs at least one node to start from, e.g. "
                "cluster_nodes=['redis://10.0.0.1:6379']"
            )
        if isinstance(buckets, bool) or not isinstance(buckets, int):
            raise ConfigurationError(f"buckets must be an int, got {buckets!r}")
        if not 1 <= buckets <= MAX_BUCKETS:
            raise ConfigurationError(f"buckets must be 1 to {MAX_BUCKETS}, got {buckets}")
        self.startup_nodes: list[tuple[str, int]] = list(startup_nodes)
        self.options: PoolOptions = options or PoolOptions()
        if self.options.connection_kwargs.get("db", 0):
            raise ConfigurationError("a Redis Cluster has only database 0; remove db=")
        self.placement: Placement = Placement(buckets, cluster_tags(buckets))
        self.outages: OutageLog = OutageLog(self.describe())
        """Where every link reports failures to reach Redis (logged at a bounded rate)."""

    def describe(self) -> str:
        """The startup nodes."""
        nodes = ", ".join(f"{host}:{port}" for host, port in self.startup_nodes)
        return f"Redis Cluster via {nodes}"

    def client_kwargs(self) -> dict[str, Any]:
        """redis-py ``RedisCluster`` keywords (timeouts, credentials, TLS)."""
        extra = self.options.connection_kwargs
        kwargs: dict[str, Any] = {
            key: value for key, value in extra.items() if key in _CLIENT_KEYWORDS
        }
        if extra.get("ssl") or extra.get("connection_class") is SSLConnection:
            kwargs["ssl"] = True
        kwargs["socket_timeout"] = self.options.socket_timeout
        kwargs["socket_connect_timeout"] = self.options.socket_timeout
        return kwargs

    def link(self, *, scripts: Sequence[Script] = (), limits: bool = False) -> ClusterLink:
        """This event loop's connections: the slots learnt on first use, then a pool and
        a pipe per master that serves a bucket."""
        return ClusterLink(self, scripts=scripts, limits=limits)


class _Topology(Protocol):
    """The calls made on redis-py's ``NodesManager``."""

    async def initialize(self) -> None: ...

    def get_node_from_slot(self, slot: int) -> ClusterNode: ...


class ClusterLink(NodeLink):
    """:class:`~.base.Link` on a Redis Cluster (see the module docstring)."""

    publish_command = b"SPUBLISH"
    sharded = True

    def __init__(self, transport: ClusterTransport, *, scripts: Sequence[Script], limits: bool):
        super().__init__(
            transport.placement,
            scripts=scripts,
            limits=limits,
            outages=transport.outages,
            options=transport.options,
        )
        self._transport = transport
        self._slots = [slot_of(tag) for tag in transport.placement.tags]
        self._buckets_of: dict[int, list[int]] = {}
        for bucket, slot in enumerate(self._slots):
            self._buckets_of.setdefault(slot, []).append(bucket)
        self._owners: list[Node | None] = [None] * transport.placement.buckets
        self._nodes: dict[str, Node] = {}
        self._cluster: RedisCluster | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._closed = False
        self._kick_after = 0.0
        self.refreshes: int = 0
        """Times the slots were learnt."""
        self.moved: int = 0
        """``MOVED`` redirections followed."""
        self.asked: int = 0
        """``ASK`` redirections followed."""
        self.retried: int = 0
        """Calls retried after ``TRYAGAIN`` or ``CLUSTERDOWN``."""

    # -- topology ------------------------------------------------------------------------

    def node_for(self, bucket: int) -> Node:
        """The master serving ``bucket``, as last learnt."""
        node = self._owners[bucket]
        if node is None:
            raise LayerConnectionError(
                f"no node of the {self._transport.describe()} is known to serve slot "
                f"{self._slots[bucket]} yet; the slots are being learnt, try again"
            )
        return node

    def nodes(self) -> list[Node]:
        """Every node this link has connected to (current masters and former ones)."""
        return list(self._nodes.values())

    async def route(self, bucket: int) -> Node:
        """The master serving ``bucket`` (the slots are learnt first, on first use)."""
        if self._owners[bucket] is None:
            await self.refresh()
        return self.node_for(bucket)

    async def refresh(self) -> None:
        """Learn the slots again (one ``CLUSTER SLOTS``, shared by concurrent callers)."""
        task = self._refreshing
        if task is None or task.done():
            task = self._refreshing = asyncio.get_running_loop().create_task(
                self._learn(), name="fast-channels cluster slots"
            )
        await asyncio.shield(task)

    def kick(self) -> None:
        """A node failed: learn the slots again in the background (one refresh at a time,
        at most one per :data:`KICK_EVERY` seconds)."""
        now = asyncio.get_running_loop().time()
        if self._closed or now < self._kick_after:
            return
        self._kick_after = now + KICK_EVERY
        task = self._refreshing
        if task is None or task.done():
            self._refreshing = task = asyncio.get_running_loop().create_task(self._learn())
            task.add_done_callback(_consume)

    async def _learn(self) -> None:
        cluster = self._cluster
        try:
            if cluster is None:
                cluster = RedisCluster(
                    startup_nodes=[
                        ClusterNode(host, port) for host, port in self._transport.startup_nodes
                    ],
                    require_full_coverage=False,
                    **self._transport.client_kwargs(),
                )
                await cluster.initialize()
                self._cluster = cluster
            else:
                await cast(_Topology, cluster.nodes_manager).initialize()
        except _FAILURES as exc:
            error = redis_failure(exc, f"learn the slots of the {self._transport.describe()}")
            self.outages.failed(error)
            raise error from exc
        self.refreshes += 1
        topology = cast(_Topology, cluster.nodes_manager)
        moved: list[str] = []
        for bucket, slot in enumerate(self._slots):
            try:
                primary = topology.get_node_from_slot(slot)
            except SlotNotCoveredError:
                continue  # mid-failover: keep the old owner until a node serves it
            node = self._node(str(primary.host), int(primary.port))
            if self._owners[bucket] is not node:
                if self._owners[bucket] is not None:
                    moved.append(f"slot {slot} -> {node.name}")
                self._owners[bucket] = node
        if moved:
            logger.warning(
                "%s: %d bucket(s) now on another master (%s)",
                self._transport.describe(),
                len(moved),
                ", ".join(moved),
            )

    def _node(self, host: str, port: int) -> Node:
        name = f"{host}:{port}"
        node = self._nodes.get(name)
        if node is None:
            kwargs = self.options.pool_kwargs({"host": host, "port": port})
            node = self._nodes[name] = self.make_node(name, BlockingConnectionPool(**kwargs))
        return node

    def follow(self, error: BaseException) -> bool:
        """Take a ``MOVED`` (the slot's new master serves its buckets from now on; the
        slots are learnt again in the background): True. Anything else: False."""
        redirect = redirection(error)
        if redirect is None or redirect.kind != "MOVED":
            return False
        self.moved += 1
        node = self._node(redirect.host, redirect.port)
        for bucket in self._buckets_of.get(redirect.slot, ()):
            self._owners[bucket] = node
        self.kick()
        return True

    # -- commands ------------------------------------------------------------------------

    async def execute(self, bucket: int, operation: Operation) -> object:
        """Run ``operation`` on the master serving ``bucket``, following redirections."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.socket_timeout
        delay = 0.01
        for _ in range(MAX_HOPS):
            node = await self.route(bucket)
            try:
                return await operation.run(node.pipe)
            except BackendRefusedError as exc:
                cause = exc.__cause__
                redirect = redirection(cause)
                if redirect is None or cause is None:
                    raise
                error: FastChannelsError = exc
            except LayerConnectionError:
                self.kick()  # the master may be gone: a replica takes over
                raise
            if redirect.kind == "MOVED":
                self.follow(cause)
                continue
            if redirect.kind == "ASK":
                self.asked += 1
                return await self.asking(redirect, operation)
            if loop.time() + delay > deadline:
                raise error
            self.retried += 1
            if redirect.kind == "CLUSTERDOWN":
                self.kick()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        raise BackendRefusedError(
            f"the {self._transport.describe()} redirected a command {MAX_HOPS} times; its "
            "nodes disagree about who serves slot "
            f"{self._slots[bucket]} (a failover or resharding under way?); nothing was done"
        )

    def submit(
        self,
        bucket: int,
        script: Script,
        keys: Sequence[str | bytes | int | float],
        args: Sequence[str | bytes | int | float],
    ) -> asyncio.Future[object]:
        """Queue ``script`` for the master's next round trip; a redirection is followed
        (then the call may run after calls queued later)."""
        loop = asyncio.get_running_loop()
        operation = Operation(script, keys, args)
        node = self._owners[bucket]
        if node is None:
            return loop.create_task(self.execute(bucket, operation))
        outer: asyncio.Future[object] = loop.create_future()
        inner = node.pipe.submit_script(script, keys, args)
        inner.add_done_callback(functools.partial(self._settle, outer, bucket, operation))
        return outer

    def _settle(
        self,
        outer: asyncio.Future[object],
        bucket: int,
        operation: Operation,
        inner: asyncio.Future[object],
    ) -> None:
        if outer.done():
            return
        if inner.cancelled():
            outer.cancel()
            return
        exc = inner.exception()
        if exc is None:
            outer.set_result(inner.result())
            return
        if isinstance(exc, LayerConnectionError):
            self.kick()
        if redirection(exc.__cause__) is None:
            outer.set_exception(exc)
            return
        retry = asyncio.get_running_loop().create_task(self.execute(bucket, operation))
        retry.add_done_callback(functools.partial(_chain, outer))

    async def asking(self, redirect: Redirect, operation: Operation) -> object:
        """Run ``operation`` once on the node an ``ASK`` names, preceded by ``ASKING``."""
        pool = cast(RawPool, self._node(redirect.host, redirect.port).pool)
        where = f"{redirect.host}:{redirect.port}"
        conn = await pool.get_connection()
        try:
            async with asyncio.timeout(self.options.socket_timeout):
                try:
                    reply = await _asking_once(conn, operation.command())
                except NoScriptError:
                    reply = await _asking_once(conn, operation.command(source=True))
        except ResponseError as exc:
            await pool.release(conn)
            raise redis_failure(exc, f"run a command on Redis at {where}") from exc
        except BaseException as exc:
            await discard_connection(pool, conn)
            if isinstance(exc, _FAILURES):
                raise redis_failure(exc, f"run a command on Redis at {where}") from exc
            raise
        await pool.release(conn)
        return reply

    def pop(self, bucket: int, key: str, *, block: float) -> Pop:
        """A blocking pop of list ``key`` that follows the bucket's slot (see module)."""
        return _ClusterPop(self, bucket, key, block)

    async def delete_matching(self, pattern: str) -> None:
        """Delete every key matching ``pattern`` on every master (SCAN + UNLINK per slot)."""
        await self.refresh()
        cluster = self._cluster
        if cluster is not None:
            for primary in cluster.get_primaries():
                self._node(str(primary.host), int(primary.port))
        await super().delete_matching(pattern)

    def unlink_groups(self, keys: list[bytes]) -> list[list[bytes]]:
        """``keys`` grouped by slot (one ``UNLINK`` may only touch one)."""
        groups: dict[int, list[bytes]] = {}
        for key in keys:
            groups.setdefault(slot_of(key), []).append(key)
        return list(groups.values())

    def where(self, bucket: int | None = None) -> str:
        """The master serving ``bucket`` (or the cluster), for messages."""
        if bucket is not None and self._owners[bucket] is not None:
            return self.node_for(bucket).name
        return self._transport.describe()

    def statistics(self) -> dict[str, int]:
        """The nodes' pipes, and redirections and refreshes of the slots."""
        stats = super().statistics()
        stats.update(
            moved=self.moved, asked=self.asked, retried=self.retried, refreshes=self.refreshes
        )
        return stats

    async def aclose(self) -> None:
        """Close every node's pipe and pool, and redis-py's cluster client."""
        self._closed = True
        task = self._refreshing
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await super().aclose()
        finally:
            if self._cluster is not None:
                await self._cluster.aclose()


async def _asking_once(
    conn: RawConnection, command: tuple[str | bytes | int | float, ...]
) -> object:
    await conn.send_packed_command([pack([("ASKING",), command])], check_health=False)
    await conn.read_response()  # +OK
    return await conn.read_response()


def _chain(outer: asyncio.Future[object], task: asyncio.Future[object]) -> None:
    if outer.done():
        return
    if task.cancelled():
        outer.cancel()
    elif task.exception() is not None:
        outer.set_exception(cast(BaseException, task.exception()))
    else:
        outer.set_result(task.result())


def _consume(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()  # reported by the outage log; nobody awaits a kicked refresh


class _ClusterPop:
    """A blocking pop that follows its bucket's slot from master to master."""

    def __init__(self, link: ClusterLink, bucket: int, key: str, block: float) -> None:
        self._link = link
        self._bucket = bucket
        self._key = key
        self._block = block
        self._node: Node | None = None
        self._popper: BlockingPop | None = None

    async def _current(self) -> BlockingPop:
        node = await self._link.route(self._bucket)
        popper = self._popper
        if popper is None or node is not self._node:
            if popper is not None:
                await popper.release()
            self._node = node
            popper = self._popper = BlockingPop(
                pool=cast(RawPool, node.pool),
                key=self._key,
                block=self._block,
                timeout=self._link.options.socket_timeout,
            )
        return popper

    async def pop(self, count: int) -> list[bytes]:
        """Up to ``count`` entries from the head of the list; [] if none came in time, or
        if the slot moved (the next call pops on the new master)."""
        popper = await self._current()
        try:
            return await popper.pop(count)
        except ResponseError as exc:
            redirect = redirection(exc)
            if redirect is None or redirect.kind in ("TRYAGAIN", "CLUSTERDOWN"):
                raise
            if redirect.kind == "MOVED":
                self._link.follow(exc)
                return []
            self._link.asked += 1
            command = ("LMPOP", 1, self._key, "LEFT", "COUNT", count)
            reply = await self._link.asking(redirect, Operation(None, (), command))
            return cast(list[bytes], cast(list[object], reply)[1]) if reply else []
        except _FAILURES:
            self._link.kick()
            raise

    async def push_back(self, entries: list[bytes]) -> None:
        """Put ``entries`` back at the head of the list, on its current master."""
        await (await self._current()).push_back(entries)

    async def release(self) -> None:
        """Give the connection back."""
        if self._popper is not None:
            await self._popper.release()
