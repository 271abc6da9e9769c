"""Pub/sub subscriptions over a transport's nodes, plain or sharded, that report their gaps.

:class:`RoutedSubscriptions` keeps the channels one layer *wants* in one event loop, each
placed in a bucket, and makes the servers agree. A router (the transport's link) says
which node serves a bucket; each node in use gets one connection and one reader task.

* :meth:`~RoutedSubscriptions.subscribe` returns once Redis confirmed the subscription,
  so a message published after it returns arrives. Confirmations are counted per channel
  and connection: every (S)SUBSCRIBE and (S)UNSUBSCRIBE gets exactly one reply, in order,
  so a caller is not fooled by the reply to an older command.
* The readers hand every message, undecoded, to the sink's ``deliver`` (no task per
  message); nothing calls back into the layer.
* **Gaps are reported.** When a connection that held subscriptions is lost (a restart, a
  failover, ``CLIENT KILL``, Redis dropping a subscriber that fell behind its output
  buffer limit), or when a Redis Cluster node drops a sharded subscription on its own
  (a ``sunsubscribe`` nobody asked for: the channel's slot moved to another node), the
  channels are subscribed again, on the node that serves them now (the router learns the
  slots again first), and once all of them are back the sink's ``resync`` gets them with
  the reason: what was published to them meanwhile is lost.
* A ``MOVED`` answering a sharded subscribe makes the router follow it, and the channels
  waiting on that connection go to the node it names.
* Failing to connect fails the callers waiting with the typed error (refused credentials
  are ``BackendAuthenticationError`` ...), is reported to the transport's outage log, and
  is retried with backoff; channels already held stay wanted and come back with Redis.
* An idle connection is probed with PING; one that stays silent is dropped and redone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Protocol, cast

from redis.asyncio.connection import ConnectionPool
from redis.exceptions import RedisError, ResponseError

from fast_channels.exceptions import FastChannelsError, LayerClosedError, LayerConnectionError
from fast_channels.layers.redis._connection import (
    REDIS_ERRORS,
    OutageLog,
    is_lasting,
    redis_failure,
)
from fast_channels.layers.redis.transport.base import Sink

__all__ = ["RoutedSubscriptions", "Router", "Server"]

logger: logging.Logger = logging.getLogger("fast_channels.layers.redis.pubsub")

_ERRORS: tuple[type[BaseException], ...] = (*REDIS_ERRORS, RedisError, OSError)
# A write also fails with AttributeError when redis-py drops the connection's writer (None)
# because the connection was closed while the write waited.
_WRITE_ERRORS: tuple[type[BaseException], ...] = (*_ERRORS, AttributeError)
_ROUTE_ERRORS: tuple[type[BaseException], ...] = (FastChannelsError, *_ERRORS)
_CHUNK = 1000
_MAX_BACKOFF = 0.5
_MAX_LASTING_BACKOFF = 5.0  # refused credentials or database: no use retrying fast


class Server(Protocol):
    """A node as the subscriptions see it."""

    @property
    def name(self) -> str:
        """Where it is, for messages."""
        ...

    @property
    def pool(self) -> ConnectionPool:
        """Where its connections come from."""
        ...


class Router(Protocol):
    """Which node serves a bucket (the transport's link)."""

    async def route(self, bucket: int) -> Server:
        """The node serving ``bucket`` now (learning the topology first if needed)."""
        ...

    async def refresh(self) -> None:
        """Learn where the buckets are again (nothing to learn for fixed nodes)."""
        ...

    def follow(self, error: BaseException) -> bool:
        """Whether ``error`` is a redirection, now followed."""
        ...


class _Connection(Protocol):
    """The few calls made on a redis-py asyncio connection."""

    @property
    def is_connected(self) -> bool: ...

    def pack_commands(self, commands: Iterable[Iterable[bytes | str]]) -> list[bytes]: ...

    async def send_packed_command(self, command: list[bytes], check_health: bool = ...) -> None: ...

    def read_response(
        self,
        disable_decoding: bool = ...,
        timeout: float | None = ...,
        *,
        push_request: bool | None = ...,
    ) -> Awaitable[object]: ...

    async def disconnect(self, nowait: bool = ...) -> None: ...


class _Pool(Protocol):
    async def get_connection(self) -> object: ...

    async def release(self, connection: object) -> None: ...


class _Conn:
    """One subscriber connection to one node, and the channels routed to it."""

    __slots__ = (
        "acked",
        "activity",
        "connection",
        "names",
        "pinged",
        "pings",
        "sent",
        "server",
        "task",
        "watchdog",
    )

    def __init__(self, server: Server) -> None:
        self.server = server
        self.connection: _Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self.names: set[bytes] = set()
        # Commands sent per channel on the live connection, and replies read so far.
        self.sent: dict[bytes, int] = {}
        self.acked: dict[bytes, int] = {}
        self.pings: dict[bytes, asyncio.Future[None]] = {}
        self.activity = 0
        self.pinged = False
        self.watchdog: asyncio.TimerHandle | None = None


@dataclass
class _Gap:
    """Channels that may have missed messages, and those of them not subscribed again yet."""

    names: frozenset[bytes]
    waiting: set[bytes]
    reason: str


class RoutedSubscriptions:
    """The pub/sub channels one layer receives in one event loop (see module docstring).

    ``sharded`` uses ``SSUBSCRIBE``/``SUNSUBSCRIBE`` (a Redis Cluster's sharded pub/sub);
    ``timeout`` bounds how long :meth:`subscribe` and :meth:`sync` wait.
    """

    def __init__(
        self,
        router: Router,
        sink: Sink,
        *,
        sharded: bool,
        timeout: float,
        outages: OutageLog | None = None,
        health_interval: float = 15.0,
    ) -> None:
        self._router = router
        self._sink = sink
        self._subscribe = b"SSUBSCRIBE" if sharded else b"SUBSCRIBE"
        self._unsubscribe = b"SUNSUBSCRIBE" if sharded else b"UNSUBSCRIBE"
        self.timeout: float = timeout
        self.health_interval: float = health_interval
        self._outages = outages
        self.wanted: dict[bytes, int] = {}
        """The channels wanted, each with its bucket."""
        self._at: dict[bytes, _Conn] = {}
        self._conns: dict[str, _Conn] = {}
        self._waiters: dict[bytes, list[asyncio.Future[None]]] = {}
        self._gaps: list[_Gap] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._ping_seq = 0
        self._closed = False
        self.reconnects: int = 0
        """Connections lost while they held subscriptions, or not, and redone."""
        self.moves: int = 0
        """Subscriptions a Cluster node dropped because their slot moved (subscribed again)."""

    # -- what the layer calls --------------------------------------------------------------

    async def subscribe(self, channel: bytes, bucket: int) -> None:
        """Subscribe to ``channel`` (placed in ``bucket``); returns once Redis confirmed it
        (at once if it had). ``LayerConnectionError`` if it cannot within ``timeout``."""
        if self._closed:
            raise LayerClosedError("the channel layer is closed; create a new one")
        if self.holds(channel):
            return
        added = channel not in self.wanted
        self.wanted[channel] = bucket
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(fut)
        try:
            async with asyncio.timeout(self.timeout):
                if added:
                    await self._place(channel)
                await fut
        except BaseException as exc:
            self._forget_waiter(channel, fut)
            if added and channel not in self._waiters and not self.holds(channel):
                self.unsubscribe(channel)  # nobody else waits for it: do not hold it
            if isinstance(exc, TimeoutError):
                raise LayerConnectionError(
                    f"Redis did not confirm the subscription to {channel.decode()!r} within "
                    f"{self.timeout}s; it is unreachable or overloaded. Retrying later is safe"
                ) from None
            raise
        self._forget_waiter(channel, fut)

    def unsubscribe(self, channel: bytes) -> None:
        """Stop receiving ``channel`` (the UNSUBSCRIBE is sent in the background)."""
        if self.wanted.pop(channel, None) is None:
            return
        for fut in self._waiters.pop(channel, []):
            if not fut.done():
                fut.set_result(None)
        for gap in self._gaps:
            gap.waiting.discard(channel)
        self._settle_gaps()
        conn = self._at.pop(channel, None)
        if conn is not None:
            conn.names.discard(channel)
            if conn.connection is not None and not self._closed:
                self._send(conn, self._unsubscribe, channel)

    def holds(self, channel: bytes) -> bool:
        """Whether Redis has confirmed ``channel`` on a live connection."""
        conn = self._at.get(channel)
        return conn is not None and conn.connection is not None and channel not in conn.sent

    async def sync(self) -> None:
        """Wait until every message Redis had for these subscriptions when called is
        delivered (a PING on each connection is answered after them); bounded by
        ``timeout``; no-op for a connection that is down."""
        waits: list[asyncio.Future[None]] = []
        for conn in list(self._conns.values()):
            if conn.connection is None or self._closed:
                continue
            self._ping_seq += 1
            token = b"fc-sync-%d" % self._ping_seq
            fut = conn.pings[token] = asyncio.get_running_loop().create_future()
            waits.append(fut)
            self._write(conn, [(b"PING", token)])
        if not waits:
            return
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.gather(*waits)
        except TimeoutError:
            logger.warning("pub/sub: Redis did not answer a PING within %ss", self.timeout)

    def statistics(self) -> dict[str, int]:
        """Subscriptions wanted, reconnections and moved subscriptions so far."""
        return {
            "subscriptions": len(self.wanted),
            "reconnects": self.reconnects,
            "moves": self.moves,
        }

    async def aclose(self) -> None:
        """Stop the readers, close the connections and fail the callers still waiting."""
        self._closed = True
        self._fail(
            list(self._waiters), LayerClosedError("the channel layer is closed; create a new one")
        )
        readers = [conn.task for conn in self._conns.values() if conn.task is not None]
        for task in [*readers, *self._tasks]:
            task.cancel()
        if readers or self._tasks:
            await asyncio.wait([*readers, *self._tasks])

    # -- placing channels on nodes -----------------------------------------------------------

    async def _place(self, channel: bytes) -> None:
        """Route ``channel`` to the node serving its bucket and subscribe there."""
        bucket = self.wanted[channel]
        try:
            server = await self._router.route(bucket)
        except _ROUTE_ERRORS as exc:
            error = redis_failure(exc, "find the Redis node of a pub/sub channel")
            self._fail([channel], error)
            raise error from exc
        if self._closed or self.wanted.get(channel) != bucket or channel in self._at:
            return
        conn = self._conns.get(server.name)
        if conn is None:
            conn = self._conns[server.name] = _Conn(server)
        conn.names.add(channel)
        self._at[channel] = conn
        if conn.connection is not None:
            self._send(conn, self._subscribe, channel)
        if conn.task is None:
            conn.task = asyncio.get_running_loop().create_task(
                self._serve(conn), name=f"fast-channels pub/sub reader {server.name}"
            )

    async def _reroute(self, conn: _Conn) -> None:
        """Move the channels of ``conn`` whose bucket another node serves now."""
        try:
            await self._router.refresh()
            moving: list[bytes] = []
            for name in list(conn.names):
                bucket = self.wanted.get(name)
                if bucket is None or (await self._router.route(bucket)).name != conn.server.name:
                    moving.append(name)
        except _ROUTE_ERRORS as exc:
            logger.debug("pub/sub: could not learn the topology again (%s)", exc)
            return
        for name in moving:
            conn.names.discard(name)
            conn.sent.pop(name, None)
            conn.acked.pop(name, None)
            if self._at.get(name) is conn:
                del self._at[name]
            if name in self.wanted:
                with contextlib.suppress(FastChannelsError):
                    await self._place(name)

    async def _move(self, channel: bytes) -> None:
        """Subscribe again to ``channel``, dropped by its node: on the node serving it now."""
        delay = 0.05
        with contextlib.suppress(*_ROUTE_ERRORS):
            await self._router.refresh()
        while channel in self.wanted and channel not in self._at and not self._closed:
            try:
                await self._place(channel)
            except FastChannelsError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)

    # -- confirmations and gaps --------------------------------------------------------------

    def _confirm(self, conn: _Conn, name: bytes, subscribed: bool) -> None:
        sent = conn.sent.get(name, 0)
        if sent == 0:
            if not subscribed:
                self._dropped(conn, name)
            return
        acked = conn.acked.get(name, 0) + 1
        if acked < sent:
            conn.acked[name] = acked
            return
        del conn.sent[name]
        conn.acked.pop(name, None)
        if self._at.get(name) is conn and name in self.wanted:
            for fut in self._waiters.get(name, []):
                if not fut.done():
                    fut.set_result(None)
            for gap in self._gaps:
                gap.waiting.discard(name)
            self._settle_gaps()

    def _dropped(self, conn: _Conn, name: bytes) -> None:
        """A node dropped ``name`` unasked: its slot moved to another node."""
        if self._at.get(name) is not conn or name not in self.wanted:
            return
        conn.names.discard(name)
        del self._at[name]
        self.moves += 1
        self._open_gap(
            [name],
            f"Redis at {conn.server.name} dropped the sharded subscription to "
            f"{name.decode(errors='replace')!r}: its slot moved to another node; messages "
            "published until it was subscribed again there are lost",
        )
        self._spawn(self._move(name))

    def _lost(self, conn: _Conn, exc: BaseException) -> None:
        held = [name for name in conn.names if name not in conn.sent]
        self._open_gap(
            held,
            f"the pub/sub connection to Redis at {conn.server.name} was lost "
            f"({type(exc).__name__}: {exc}); messages published until it was subscribed "
            "again are lost",
        )

    def _open_gap(self, names: list[bytes], reason: str) -> None:
        if names:
            self._gaps.append(_Gap(frozenset(names), set(names), reason))

    def _settle_gaps(self) -> None:
        done = [gap for gap in self._gaps if not gap.waiting]
        if not done:
            return
        self._gaps = [gap for gap in self._gaps if gap.waiting]
        for gap in done:
            names = frozenset(name for name in gap.names if name in self.wanted)
            if names and not self._closed:
                try:
                    self._sink.resync(names, gap.reason)
                except Exception:
                    logger.exception("pub/sub: telling receivers about lost messages failed")

    def _fail(self, names: Iterable[bytes], error: BaseException) -> None:
        for name in names:
            for fut in self._waiters.get(name, []):
                if not fut.done():
                    fut.set_exception(error)

    def _forget_waiter(self, name: bytes, fut: asyncio.Future[None]) -> None:
        waiting = self._waiters.get(name)
        if waiting is not None and fut in waiting:
            waiting.remove(fut)
            if not waiting:
                del self._waiters[name]

    # -- one connection ------------------------------------------------------------------------

    async def _serve(self, conn: _Conn) -> None:
        delay = 0.0
        try:
            while not self._closed and conn.names:
                try:
                    connection = await self._connect(conn)
                except _ERRORS as exc:
                    error = redis_failure(exc, f"subscribe on Redis at {conn.server.name}")
                    self._fail(conn.names, error)
                    if self._outages is not None:
                        self._outages.failed(error)
                    most = _MAX_LASTING_BACKOFF if is_lasting(error) else _MAX_BACKOFF
                    delay = min(max(delay * 2, 0.05), most)
                    await asyncio.sleep(delay)
                    await self._reroute(conn)
                    continue
                delay = 0.0
                if self._outages is not None:
                    self._outages.recovered()
                try:
                    await self._read(conn, connection)
                except _ERRORS as exc:
                    if self._closed:
                        return
                    self.reconnects += 1
                    self._lost(conn, exc)
                    logger.warning(
                        "pub/sub: lost the connection to Redis at %s (%s: %s); reconnecting",
                        conn.server.name,
                        type(exc).__name__,
                        exc,
                    )
                finally:
                    await self._drop(conn, connection)
                await self._reroute(conn)
        finally:
            conn.task = None
            if not conn.names and self._conns.get(conn.server.name) is conn:
                del self._conns[conn.server.name]

    async def _connect(self, conn: _Conn) -> _Connection:
        connection = cast(_Connection, await cast(_Pool, conn.server.pool).get_connection())
        conn.connection = connection
        conn.sent, conn.acked = {}, {}
        conn.activity, conn.pinged = 0, False
        by_bucket: dict[int, list[bytes]] = {}
        for name in sorted(conn.names):
            by_bucket.setdefault(self.wanted[name], []).append(name)
            conn.sent[name] = 1
        commands: list[tuple[bytes, ...]] = []
        for names in by_bucket.values():  # a sharded subscribe takes channels of one slot
            for i in range(0, len(names), _CHUNK):
                commands.append((self._subscribe, *names[i : i + _CHUNK]))
        self._arm_watchdog(conn)
        if commands:
            self._write(conn, commands)
        return connection

    async def _read(self, conn: _Conn, connection: _Connection) -> None:
        read, deliver = connection.read_response, self._sink.deliver
        while True:
            try:
                # push_request: under RESP3 pub/sub replies are pushes.
                reply = await read(disable_decoding=True, timeout=math.inf, push_request=True)
            except ResponseError as exc:  # e.g. MOVED, or NOPERM answering a subscribe
                reply = exc
            conn.activity += 1
            if self._closed:
                return
            if isinstance(reply, list):
                parts = cast(list[bytes], reply)
                kind = parts[0]
                if kind == b"message" or kind == b"smessage":
                    try:
                        deliver(parts[1], parts[2])
                    except Exception:
                        logger.exception("pub/sub: delivering a message on %r failed", parts[1])
                elif kind == b"subscribe" or kind == b"ssubscribe":
                    self._confirm(conn, parts[1], True)
                elif kind == b"unsubscribe" or kind == b"sunsubscribe":
                    self._confirm(conn, parts[1], False)
                elif kind == b"pong":
                    self._pong(conn, parts[1])
            elif isinstance(reply, ResponseError):
                if self._router.follow(reply):
                    self._spawn(self._reroute(conn))
                else:
                    self._refused(conn, reply)
            else:
                self._pong(conn, reply)  # RESP3 answers PING <token> with the bare token

    def _refused(self, conn: _Conn, reply: ResponseError) -> None:
        """Redis refused a command of ours (a subscribe the ACL forbids): fail everyone
        waiting on this connection (which name it was, Redis does not say) and log it."""
        error = redis_failure(reply, f"subscribe on Redis at {conn.server.name}")
        self._fail(list(conn.sent), error)
        logger.error("pub/sub: %s", error)

    def _pong(self, conn: _Conn, token: object) -> None:
        fut = conn.pings.pop(token, None) if isinstance(token, bytes) else None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _send(self, conn: _Conn, command: bytes, name: bytes) -> None:
        conn.sent[name] = conn.sent.get(name, 0) + 1
        self._write(conn, [(command, name)])

    def _write(self, conn: _Conn, commands: list[tuple[bytes, ...]]) -> None:
        connection = conn.connection
        if connection is not None:
            self._spawn(self._do_write(conn, connection, commands))

    async def _do_write(
        self, conn: _Conn, connection: _Connection, commands: list[tuple[bytes, ...]]
    ) -> None:
        if conn.connection is not connection or not connection.is_connected:
            return  # the reader redoes every subscription on its next connection
        try:
            await connection.send_packed_command(
                connection.pack_commands(commands), check_health=False
            )
        except _WRITE_ERRORS as exc:
            logger.debug("subscriber write failed (%s); the reader reconnects", exc)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm_watchdog(self, conn: _Conn) -> None:
        conn.watchdog = asyncio.get_running_loop().call_later(
            self.health_interval, self._check_health, conn, conn.activity
        )

    def _check_health(self, conn: _Conn, seen: int) -> None:
        connection = conn.connection
        if connection is None or self._closed:
            return
        if conn.activity != seen:
            conn.pinged = False
        elif not conn.pinged:
            conn.pinged = True
            self._write(conn, [(b"PING",)])
        else:
            logger.warning("pub/sub: Redis at %s stopped answering; reconnecting", conn.server.name)
            self._spawn(connection.disconnect(nowait=True))
            return
        self._arm_watchdog(conn)

    async def _drop(self, conn: _Conn, connection: _Connection) -> None:
        if conn.watchdog is not None:
            conn.watchdog.cancel()
            conn.watchdog = None
        conn.connection = None
        pings, conn.pings = conn.pings, {}
        for fut in pings.values():  # nothing more comes from this connection
            if not fut.done():
                fut.set_result(None)
        try:
            await connection.disconnect(nowait=True)
        finally:
            await cast(_Pool, conn.server.pool).release(connection)
