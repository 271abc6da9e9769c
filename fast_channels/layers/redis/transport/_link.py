"""What every transport's link shares: nodes, routing by bucket, publishing, flushing.

A :class:`Node` is one Redis server as a link sees it: a bounded pool that waits for a
free connection, and a pipelined connection (``_pipe.CommandPipe``) made on first use.
:class:`NodeLink` implements :class:`~.base.Link` over nodes; a transport's own link only
says which node serves a bucket (:meth:`NodeLink.node_for`) and, on a Redis Cluster, how
to follow a redirection (:meth:`NodeLink.follow`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from redis.asyncio import Redis
from redis.asyncio.connection import ConnectionPool

from fast_channels.exceptions import MessageTooLargeError
from fast_channels.layers.redis._connection import REDIS_ERRORS, OutageLog, RawPool, redis_failure
from fast_channels.layers.redis._pipe import Arg, CommandPipe, Script
from fast_channels.layers.redis._pop import BlockingPop
from fast_channels.layers.redis.transport._runtime import stop
from fast_channels.layers.redis.transport._subscriber import RoutedSubscriptions
from fast_channels.layers.redis.transport.base import Call, Placement, Pop, Sink, Subscriptions

__all__ = ["FixedLink", "Node", "NodeLink", "Operation", "Pipe", "PoolOptions", "describe_server"]


@dataclass(frozen=True, kw_only=True)
class PoolOptions:
    """How a transport connects to each of its Redis servers (every process alike)."""

    max_connections: int = 64
    """Connections per server and event loop; a burst waits for a free one."""
    pool_timeout: float = 10.0
    """Seconds a command waits for a free connection before it fails."""
    socket_timeout: float = 5.0
    """Seconds to connect, or to get a reply, before a call fails."""
    connection_kwargs: dict[str, Any] = field(default_factory=dict[str, Any])
    """Extra redis-py connection keywords for every server (password, TLS, ...)."""

    def pool_kwargs(self, node: dict[str, Any]) -> dict[str, Any]:
        """The keywords of a blocking pool for the server ``node`` (redis-py keywords)."""
        return {
            "max_connections": self.max_connections,
            "timeout": self.pool_timeout,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            "health_check_interval": 30,
            **node,
            **self.connection_kwargs,
        }


class Pipe(Protocol):
    """A node's pipelined connection (``_pipe.CommandPipe``), as a link uses it."""

    round_trips: int
    """Round trips so far."""
    commands: int
    """Commands sent so far."""
    errors: int
    """Round trips that failed."""
    pubsub_limit: int
    """The server's pub/sub output buffer hard limit in bytes (0: none)."""
    publish_max: int
    """The largest message to publish now."""

    async def script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> object:
        """Run ``EVALSHA script``, joining the round trip under way if any."""
        ...

    async def command(self, *args: Arg) -> object:
        """Run one plain command, batched like :meth:`script`."""
        ...

    def submit_script(
        self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> asyncio.Future[object]:
        """Queue ``EVALSHA script`` for the next round trip, in order."""
        ...

    async def ready(self) -> None:
        """Connect now unless connected."""
        ...

    async def aclose(self) -> None:
        """Stop the writer and release its connection."""
        ...


class Node:
    """One Redis server of a link: its pool and its pipelined connection (made on first
    use, on the running loop)."""

    __slots__ = ("_limits", "_outages", "_pipe", "_scripts", "_timeout", "name", "pool")

    def __init__(
        self,
        name: str,
        pool: ConnectionPool,
        *,
        scripts: Sequence[Script],
        limits: bool,
        outages: OutageLog,
        timeout: float,
    ) -> None:
        self.name: str = name
        """Where the server is (``host:port``, or a description), for messages."""
        self.pool: ConnectionPool = pool
        self._scripts = scripts
        self._limits = limits
        self._outages = outages
        self._timeout = timeout
        self._pipe: Pipe | None = None

    @property
    def pipe(self) -> Pipe:
        """The node's pipelined connection."""
        pipe = self._pipe
        if pipe is None:
            pipe = self._pipe = CommandPipe(
                self.pool,
                self._scripts,
                self.name,
                timeout=self._timeout,
                limits=self._limits,
                outages=self._outages,
            )
        return pipe

    def statistics(self) -> dict[str, int]:
        """Round trips, commands and failed round trips of the node's pipe."""
        pipe = self._pipe
        if pipe is None:
            return {"round_trips": 0, "commands": 0, "errors": 0}
        return {"round_trips": pipe.round_trips, "commands": pipe.commands, "errors": pipe.errors}

    async def aclose(self) -> None:
        """Stop the pipe and disconnect the pool."""
        try:
            if self._pipe is not None:
                await stop(self._pipe.aclose)
        finally:
            await self.pool.disconnect()


@dataclass(frozen=True, slots=True)
class Operation:
    """One command for a node: a script call, or a plain command when ``script`` is None."""

    script: Script | None
    keys: Sequence[Arg]
    args: Sequence[Arg]

    def run(self, pipe: Pipe) -> Awaitable[object]:
        """Run it on ``pipe`` (joining the round trip under way, if any)."""
        if self.script is not None:
            return pipe.script(self.script, self.keys, self.args)
        return pipe.command(*self.args)

    def command(self, *, source: bool = False) -> tuple[Arg, ...]:
        """It as a Redis command (``EVAL`` with the script's source if ``source``)."""
        if self.script is None:
            return tuple(self.args)
        head: tuple[Arg, ...] = (
            ("EVAL", self.script.source) if source else ("EVALSHA", self.script.sha)
        )
        return (*head, len(self.keys), *self.keys, *self.args)


class _Scanning(Protocol):
    async def execute_command(self, *args: Arg) -> object: ...


class NodeLink:
    """:class:`~.base.Link` over :class:`Node` objects; subclasses say which node serves
    a bucket. ``publish_command`` is ``PUBLISH`` (``SPUBLISH`` for sharded pub/sub)."""

    publish_command: bytes = b"PUBLISH"
    sharded: bool = False
    """Whether pub/sub is sharded (``SSUBSCRIBE``/``SPUBLISH``, a Redis Cluster)."""

    def __init__(
        self,
        placement: Placement,
        *,
        scripts: Sequence[Script],
        limits: bool,
        outages: OutageLog,
        options: PoolOptions,
    ) -> None:
        self.placement: Placement = placement
        self.scripts: tuple[Script, ...] = tuple(scripts)
        self.limits: bool = limits
        self.outages: OutageLog = outages
        self.options: PoolOptions = options

    # -- what a transport's link says ----------------------------------------------------

    def node_for(self, bucket: int) -> Node:
        """The node serving ``bucket`` now."""
        raise NotImplementedError

    def nodes(self) -> list[Node]:
        """Every node this link knows."""
        raise NotImplementedError

    async def route(self, bucket: int) -> Node:
        """The node serving ``bucket``, once the link knows (a Cluster learns its slots)."""
        return self.node_for(bucket)

    async def refresh(self) -> None:
        """Learn where the buckets are again (a Cluster after a failover or a move)."""

    def follow(self, error: BaseException) -> bool:
        """Whether ``error`` is a redirection the link now follows (only on a Cluster)."""
        return False

    def kick(self) -> None:
        """A node failed: learn the topology again in the background (only on a Cluster)."""

    async def execute(self, bucket: int, operation: Operation) -> object:
        """Run ``operation`` on the node serving ``bucket`` (a Cluster follows redirects)."""
        return await operation.run(self.node_for(bucket).pipe)

    def make_node(self, name: str, pool: ConnectionPool) -> Node:
        """A node of this link over ``pool``."""
        return Node(
            name,
            pool,
            scripts=self.scripts,
            limits=self.limits,
            outages=self.outages,
            timeout=self.options.socket_timeout,
        )

    # -- Link ------------------------------------------------------------------------------

    async def script(
        self, bucket: int, script: Script, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> object:
        """Run ``script`` on the node serving ``bucket`` and return its reply."""
        return await self.execute(bucket, Operation(script, keys, args))

    def submit(
        self, bucket: int, script: Script, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> asyncio.Future[object]:
        """Queue ``script`` for the node's next round trip, after what was queued before."""
        return self.node_for(bucket).pipe.submit_script(script, keys, args)

    async def fan_out(self, calls: Sequence[Call]) -> list[object]:
        """Run each call on its bucket's node: all are queued at once, so each node gets
        them in one round trip; replies in order. The first failure is raised once every
        call has ended (the others may have run)."""
        if len(calls) == 1:
            bucket, script, keys, args = calls[0]
            return [await self.script(bucket, script, keys, args)]
        futures = [self.submit(*call) for call in calls]
        replies: list[object] = list(await asyncio.gather(*futures, return_exceptions=True))
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return replies

    async def publish(self, bucket: int, channel: bytes, data: bytes) -> int:
        """Publish ``data`` to ``channel``; how many subscribers Redis handed it to.

        ``MessageTooLargeError`` for a message over 3/4 of the server's pub/sub output
        buffer hard limit (with ``limits``): Redis would disconnect the subscriber it is
        handed to, losing what that subscriber held.
        """
        if self.limits:
            pipe = (await self.route(bucket)).pipe
            if len(data) > pipe.publish_max:
                await pipe.ready()  # reads the server's limit
                if len(data) > pipe.publish_max:
                    raise MessageTooLargeError(
                        f"a {len(data)}-byte message cannot be published to Redis at "
                        f"{self.where(bucket)}: it disconnects a pub/sub subscriber whose "
                        f"output buffer reaches {pipe.pubsub_limit} bytes "
                        "(client-output-buffer-limit pubsub), losing what it held, so this "
                        f"layer refuses messages over {pipe.publish_max} bytes there. Send a "
                        "reference to the data instead, or raise that limit on the server; "
                        "nothing was sent"
                    )
        count = await self.execute(
            bucket, Operation(None, (), (self.publish_command, channel, data))
        )
        return count if isinstance(count, int) else 0

    async def ready(self, bucket: int) -> None:
        """Connect to the node serving ``bucket`` now (raises what connecting raises)."""
        await (await self.route(bucket)).pipe.ready()

    def pop(self, bucket: int, key: str, *, block: float) -> Pop:
        """A blocking pop of list ``key`` on the node serving ``bucket``."""
        return BlockingPop(
            pool=cast(RawPool, self.node_for(bucket).pool),
            key=key,
            block=block,
            timeout=self.options.socket_timeout,
        )

    def subscriptions(self, sink: Sink) -> Subscriptions:
        """New pub/sub subscriptions delivering to ``sink``."""
        return RoutedSubscriptions(
            self,
            sink,
            sharded=self.sharded,
            timeout=self.options.socket_timeout,
            outages=self.outages,
        )

    async def delete_matching(self, pattern: str) -> None:
        """Delete every key matching ``pattern`` on every node (SCAN + UNLINK)."""
        for node in self.nodes():
            client = cast(_Scanning, Redis(connection_pool=node.pool))
            try:
                cursor = 0
                while True:
                    reply = cast(
                        list[object],
                        await client.execute_command(
                            "SCAN", cursor, "MATCH", pattern, "COUNT", 1000
                        ),
                    )
                    cursor = int(cast(bytes, reply[0]))
                    for group in self.unlink_groups(cast(list[bytes], reply[1])):
                        await client.execute_command("UNLINK", *group)
                    if cursor == 0:
                        break
            except REDIS_ERRORS as exc:
                raise redis_failure(exc, f"delete keys on Redis at {node.name}") from exc

    def unlink_groups(self, keys: list[bytes]) -> list[list[bytes]]:
        """``keys`` in groups one ``UNLINK`` may take (a Cluster: one slot per group)."""
        return [keys] if keys else []

    def where(self, bucket: int | None = None) -> str:
        """The node serving ``bucket`` (or every node), for messages; no passwords."""
        if bucket is not None:
            return self.node_for(bucket).name
        return ", ".join(node.name for node in self.nodes())

    def statistics(self) -> dict[str, int]:
        """Round trips, commands and failed round trips of every node's pipe."""
        total = {"round_trips": 0, "commands": 0, "errors": 0}
        for node in self.nodes():
            for key, value in node.statistics().items():
                total[key] += value
        return total

    async def aclose(self) -> None:
        """Close every node (its pipe, then its pool)."""
        errors: list[BaseException] = []
        for node in self.nodes():
            try:
                await node.aclose()
            except Exception as exc:  # close the others all the same
                errors.append(exc)
        if errors:
            raise errors[0]


class FixedLink(NodeLink):
    """A link whose buckets stay on the servers they were given: bucket ``i`` on
    ``pools[i]`` (one server, client-side shards, the master Sentinel names)."""

    def __init__(
        self,
        placement: Placement,
        pools: Sequence[tuple[str, ConnectionPool]],
        *,
        scripts: Sequence[Script],
        limits: bool,
        outages: OutageLog,
        options: PoolOptions,
    ) -> None:
        super().__init__(
            placement, scripts=scripts, limits=limits, outages=outages, options=options
        )
        self._nodes = [self.make_node(name, pool) for name, pool in pools]

    def node_for(self, bucket: int) -> Node:
        """Node ``bucket``."""
        return self._nodes[bucket]

    def nodes(self) -> list[Node]:
        """The nodes, one per bucket."""
        return list(self._nodes)


def describe_server(server: dict[str, Any]) -> str:
    """Where the server of redis-py connection keywords ``server`` is; no password."""
    return str(
        server.get("path") or f"{server.get('host', 'localhost')}:{server.get('port', 6379)}"
    )
