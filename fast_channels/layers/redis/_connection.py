"""How the Redis layers reach Redis: hosts or Sentinel, sharding, one client set per loop.

Both Redis layers take the same connection options (:class:`~._layer.RedisLayerOptions`)
and hand them to :class:`RedisConnection`:

* ``hosts``: a list of Redis servers, each a URL (``redis://``, ``rediss://``,
  ``unix://``, ``redis+sentinel://``), a ``(host, port)`` tuple, a dict of redis-py
  connection keywords (an ``"address"`` key may hold a URL) or a Sentinel dict, as
  channels_redis takes them (read by :func:`~._hosts.read_hosts`). Several hosts *shard*
  the layer: every channel and group lives on one host, chosen by a stable hash of its
  name, the same in every process.
* ``sentinels=[(host, port), ...]`` with ``service_name``: reach the master that the
  sentinels name (and follow it after a failover). ``sentinel_kwargs`` go to the
  connections to the sentinels (e.g. their password), ``connection_kwargs`` to the
  connections to the master (of every shard).

Connections come from bounded *blocking* pools: a burst of commands waits for a free
connection (up to ``pool_timeout``) instead of failing. Commands that cannot reach Redis
within ``socket_timeout`` fail with :class:`~fast_channels.exceptions.LayerConnectionError`.
Clients are kept per event loop, so a layer can be used from several loops in turn
(pytest-asyncio's per-test loops, the sync API's loop thread). A :class:`LoopKeeper` task
on each such loop closes what the layer holds there when the loop ends, and
:meth:`RedisConnection.close_loop` lets go of the loop's clients, so nothing of a finished
loop is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import weakref
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib import resources
from typing import Any, Protocol, cast

import redis
from redis.asyncio import Redis
from redis.asyncio.connection import BlockingConnectionPool, ConnectionPool
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import AuthenticationError as RedisAuthenticationError
from redis.exceptions import NoPermissionError, OutOfMemoryError, ReadOnlyError, RedisError
from redis.exceptions import ResponseError as RedisResponseError

from fast_channels.exceptions import (
    BackendAuthenticationError,
    BackendConfigurationError,
    BackendRefusedError,
    ConfigurationError,
    FastChannelsError,
    LayerConnectionError,
)
from fast_channels.layers.redis._hosts import HostSpec, SentinelShard, Shard, read_hosts

__all__ = [
    "REDIS_ERRORS",
    "LoopKeeper",
    "OutageLog",
    "RedisConnection",
    "close_client",
    "connection_error",
    "is_lasting",
    "load_script",
    "redis_failure",
    "require_redis_py",
]

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    RedisError,
    ConnectionError,
    TimeoutError,
)
"""What a call to Redis raises when it fails, whatever the reason (redis-py's whole error
tree, and the socket errors under it): :func:`redis_failure` turns each into the typed
error of :mod:`fast_channels.exceptions`."""

OLDEST_REDIS_PY = (5, 3, 0)
"""The oldest redis-py the Redis layers work with (pyproject.toml declares it too)."""


def require_redis_py(version: str) -> None:
    """Refuse an older redis-py with a message that says what to install (before 5.3.0 a
    pool's ``get_connection()`` needs a command name, and nothing would connect)."""
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    if numbers < OLDEST_REDIS_PY:
        raise ConfigurationError(
            f"the Redis layers need redis-py >= 5.3.0, but {version} is installed: "
            "pip install 'redis[hiredis]>=5.3.0' (or fast-channels[redis])"
        )


class RawConnection(Protocol):
    """The calls made on a redis-py asyncio connection held outside redis-py's client
    (the command pipe and the inbox reader keep one each)."""

    socket_timeout: float | None
    """Bounds each write and each read redis-py makes on this connection (None: none)."""

    async def send_packed_command(
        self, command: list[bytes], check_health: bool = True
    ) -> None: ...

    async def read_response(self) -> object: ...

    async def disconnect(self, nowait: bool = False) -> None: ...


class RawPool(Protocol):
    """The two calls made on a redis-py asyncio connection pool for a held connection."""

    async def get_connection(self) -> RawConnection: ...

    async def release(self, connection: RawConnection) -> None: ...


async def discard_connection(pool: RawPool, conn: RawConnection) -> None:
    """Close a held connection (its replies may be half read) without waiting for the
    server, and give it back: a server that stopped answering cannot delay the caller."""
    try:
        with contextlib.suppress(*REDIS_ERRORS, OSError):
            await conn.disconnect(nowait=True)
    finally:
        await pool.release(conn)


def _is_wrong_database(exc: BaseException) -> bool:
    text = str(exc)
    return "DB index" in text or "invalid DB" in text or text == "Invalid Database"


def redis_failure(exc: BaseException, doing: str) -> FastChannelsError:
    """The typed error for ``exc``, raised by redis-py (or the socket under it) while
    trying to ``doing`` (e.g. "send to Redis at host:6379"), chained to ``exc``.

    The one place redis-py's error tree is read: refused credentials are a
    :class:`BackendAuthenticationError`, a database the server lacks a
    :class:`BackendConfigurationError`, a command Redis refused (out of memory, a
    read-only replica) a :class:`BackendRefusedError`, anything else (unreachable, timed
    out, connection broken) a :class:`LayerConnectionError`.
    """
    if isinstance(exc, FastChannelsError):
        return exc
    reason = f"{type(exc).__name__}: {exc}"
    error: FastChannelsError
    if isinstance(exc, RedisAuthenticationError | NoPermissionError):
        error = BackendAuthenticationError(
            f"could not {doing}: Redis refused the layer's credentials ({reason}). Check the "
            "password and user name in the Redis URL (redis://user:password@host:6379) or in "
            "connection_kwargs, and the user's ACL permissions; nothing was sent"
        )
    elif _is_wrong_database(exc):
        error = BackendConfigurationError(
            f"could not {doing}: Redis has no such database ({reason}). Use a database "
            "number below the server's 'databases' setting (16 by default), e.g. "
            "redis://host:6379/0; nothing was sent"
        )
    elif isinstance(exc, OutOfMemoryError):
        error = BackendRefusedError(
            f"could not {doing}: Redis is out of memory and refused it ({reason}). It is at "
            "its 'maxmemory' limit with the 'noeviction' policy: free memory, raise "
            "maxmemory or choose an eviction policy; nothing was sent"
        )
    elif isinstance(exc, ReadOnlyError):
        error = BackendRefusedError(
            f"could not {doing}: this Redis is a read-only replica ({reason}). Point the "
            "layer at the master, or at the sentinels that name it (sentinels=); nothing "
            "was sent"
        )
    elif isinstance(exc, RedisResponseError):
        error = BackendRefusedError(
            f"could not {doing}: Redis refused it ({reason}); nothing was done"
        )
    else:
        error = LayerConnectionError(
            f"could not {doing}: Redis is unreachable or did not answer ({reason}). Check "
            "that Redis runs there and that the layer's hosts= (or sentinels=) names it. If "
            "the connection broke after the command was written it may still have run, so a "
            "retry can deliver a message twice; the layer reconnects by itself"
        )
    error.__cause__ = exc
    return error


connection_error = redis_failure
"""The older name of :func:`redis_failure`."""


def is_lasting(error: BaseException) -> bool:
    """Whether ``error`` will not go away by itself (refused credentials, a database the
    server lacks): reconnecting at once would only repeat it."""
    return isinstance(error, BackendConfigurationError)


logger = logging.getLogger("fast_channels.layers.redis")

OUTAGE_LOG_EVERY = 30.0
"""Seconds between two log lines about one outage that goes on."""


class OutageLog:
    """What a layer logs when its Redis fails, at a bounded rate, for one Redis setup.

    The first failure is logged at once as an error naming the server, the cause and what
    to check; while failures go on, one line every :data:`OUTAGE_LOG_EVERY` seconds says
    for how long and how many calls failed; the first success after them says that Redis
    answers again. Every part of the layer (command pipes, subscribers, readers) reports
    here, so an outage reads as a few lines, whatever the traffic.
    """

    def __init__(self, where: str, *, every: float = OUTAGE_LOG_EVERY) -> None:
        self.where: str = where
        self.every: float = every
        """Seconds between two lines about one outage that goes on."""
        self.failures: int = 0
        """Failures since the outage began (0: Redis answers)."""
        self.outages: int = 0
        """Outages so far (a failure after a success begins one)."""
        self._began = 0.0
        self._next_line = 0.0

    def failed(self, error: BaseException) -> None:
        """Record a failure to reach (or use) Redis; ``error`` is the typed error raised."""
        now = time.monotonic()
        self.failures += 1
        if self.failures == 1:
            self.outages += 1
            self._began = now
            self._next_line = now + self.every
            logger.error("%s%s", error, self._advice(error))
        elif now >= self._next_line:
            self._next_line = now + self.every
            logger.error(
                "Redis at %s still fails after %.0fs (%d failed attempts); last error: %s",
                self.where,
                now - self._began,
                self.failures,
                error,
            )

    def recovered(self) -> None:
        """Record a success (called when a connection is made, not per command)."""
        if self.failures:
            logger.warning(
                "Redis at %s answers again after %.1fs (%d failed attempts)",
                self.where,
                time.monotonic() - self._began,
                self.failures,
            )
            self.failures = 0

    def _advice(self, error: BaseException) -> str:
        if isinstance(error, BackendConfigurationError):
            return f" (said again every {self.every:.0f}s until fixed)"
        return (
            f" (until Redis at {self.where} answers, calls that need it raise "
            f"LayerConnectionError; said again every {self.every:.0f}s while it lasts)"
        )


def load_script(name: str) -> str:
    """The source of ``_scripts/<name>.lua`` shipped with the package."""
    return (resources.files("fast_channels.layers.redis") / "_scripts" / f"{name}.lua").read_text(
        "utf-8"
    )


async def close_client(client: Redis) -> None:
    """Close ``client`` and its pool; through Sentinel, the connections to the sentinels too."""
    pool = client.connection_pool
    await client.aclose(close_connection_pool=True)
    if isinstance(pool, SentinelConnectionPool):
        manager = cast(Sentinel, getattr(pool, "sentinel_manager", None))
        for sentinel in manager.sentinels:
            await sentinel.aclose(close_connection_pool=True)


class LoopKeeper:
    """A task on the running event loop that waits until it is cancelled, then awaits
    ``cleanup()``: the end of what a layer holds for that loop.

    It is cancelled by :meth:`aclose` (or :meth:`cancel_threadsafe`), or by the loop
    shutting down: ``asyncio.run``, ``asyncio.Runner`` (so pytest-asyncio) and the sync
    API's loop thread cancel every task before they close a loop, so ``cleanup`` runs on
    the loop that owns the connections, while it can still close them. ``closed`` is true
    from then on; the layer then makes a new keeper if the loop is used again.
    """

    def __init__(self, cleanup: Callable[[], Awaitable[None]], *, name: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed = False
        self._cleanup = cleanup
        self.task = self.loop.create_task(self._keep(), name=name)

    async def _keep(self) -> None:
        try:
            await self.loop.create_future()
        finally:
            self.closed = True
            await self._cleanup()

    async def aclose(self) -> None:
        """Run the cleanup now and wait for it (call it from the keeper's loop)."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def cancel_threadsafe(self) -> None:
        """From any thread: have the keeper's loop run the cleanup when it next runs
        (nothing happens if that loop is closed by then)."""
        if not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed in the meantime
                self.loop.call_soon_threadsafe(self.task.cancel)


class _SentinelBlockingPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel-managed pool that waits for a free connection instead of failing."""


# redis-py leaves the Sentinel constructors unannotated; these are their signatures.
_sentinel_pool: Callable[..., ConnectionPool] = _SentinelBlockingPool
_sentinel: Callable[..., Sentinel] = Sentinel


class RedisConnection:
    """The Redis servers of one layer: sharding, pools and clients per event loop."""

    def __init__(
        self,
        *,
        hosts: Sequence[HostSpec] | None = None,
        sentinels: Sequence[tuple[str, int]] | None = None,
        service_name: str | None = None,
        sentinel_kwargs: Mapping[str, Any] | None = None,
        connection_kwargs: Mapping[str, Any] | None = None,
        max_connections: int = 64,
        pool_timeout: float = 10.0,
        socket_timeout: float = 5.0,
    ) -> None:
        require_redis_py(redis.__version__)
        for name, value in (("max_connections", max_connections),):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a positive int, got {value!r}")
        for name, seconds in (("pool_timeout", pool_timeout), ("socket_timeout", socket_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise ConfigurationError(f"{name} must be a positive number, got {seconds!r}")
        self.max_connections = max_connections
        self.pool_timeout: float = float(pool_timeout)
        self.socket_timeout: float = float(socket_timeout)
        self.shards: list[Shard] = read_hosts(
            hosts=hosts,
            sentinels=sentinels,
            service_name=service_name,
            sentinel_kwargs=sentinel_kwargs,
            connection_kwargs=connection_kwargs,
            defaults={
                "socket_timeout": self.socket_timeout,
                "socket_connect_timeout": self.socket_timeout,
                "health_check_interval": 30,
            },
        )
        """The Redis masters the layer spreads its data over (:mod:`._hosts`)."""
        self.shard_count: int = len(self.shards)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Redis]] = (
            weakref.WeakKeyDictionary()
        )
        self.outages: OutageLog = OutageLog(self.describe())
        """Where every part of the layer reports failures to reach Redis (logged at a
        bounded rate)."""

    # -- shards ----------------------------------------------------------------------

    def database(self, shard: int = 0) -> int:
        """The Redis database number the layer uses on ``shard`` (0 unless configured)."""
        return int(self.shards[shard].kwargs.get("db", 0))

    def shard_for(self, name: str) -> int:
        """The shard that holds ``name``; process-local channels follow their process."""
        if self.shard_count == 1:
            return 0
        key = name.split("!", 1)[0]
        return zlib.crc32(key.encode("utf-8")) % self.shard_count

    def client(self, shard: int = 0) -> Redis:
        """The client of ``shard`` for the running event loop (made on first use)."""
        loop = asyncio.get_running_loop()
        clients = self._clients.get(loop)
        if clients is None:
            clients = [Redis(connection_pool=self._pool(i)) for i in range(self.shard_count)]
            self._clients[loop] = clients
        return clients[shard]

    def forget_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Drop the clients of ``loop`` (already closed by the caller) so nothing of a
        finished loop is kept: they hold the loop alive through their connections."""
        self._clients.pop(loop, None)

    async def close_loop(self, clients: Sequence[Redis]) -> None:
        """Close ``clients``, made by :meth:`clients` on the running loop, and forget the
        loop's clients if they are still those: the next use on this loop makes new ones."""
        held = self._clients.get(asyncio.get_running_loop())
        if held is not None and clients and held[0] is clients[0]:
            self.forget_loop(asyncio.get_running_loop())
        for client in clients:
            await close_client(client)

    def clients(self) -> list[Redis]:
        """One client per shard for the running event loop."""
        return [self.client(i) for i in range(self.shard_count)]

    def _pool(self, shard: int) -> ConnectionPool:
        spec = self.shards[shard]
        if isinstance(spec, SentinelShard):
            sentinel = _sentinel(list(spec.sentinels), sentinel_kwargs=spec.sentinel_kwargs)
            return _sentinel_pool(
                spec.service_name,
                sentinel,
                max_connections=self.max_connections,
                timeout=self.pool_timeout,
                **spec.kwargs,
            )
        return BlockingConnectionPool(
            max_connections=self.max_connections, timeout=self.pool_timeout, **spec.kwargs
        )

    def describe(self, shard: int | None = None) -> str:
        """Where this layer's Redis is (``shard``'s server only, if given), for error
        messages (no passwords)."""
        shards = self.shards if shard is None else self.shards[shard : shard + 1]
        return ", ".join(spec.describe() for spec in shards)

    def forget_pools(self) -> object:
        """Forget every loop's pools without closing them (in a forked child: they are
        the parent's); returns them, to be kept referenced, never used."""
        parents, self._clients = self._clients, weakref.WeakKeyDictionary()
        return parents

    async def aclose(self) -> None:
        """Close the pools of the running loop and forget those of other loops."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        mine = self._clients.pop(loop, None) if loop is not None else None
        self._clients.clear()
        for client in mine or []:
            await close_client(client)
