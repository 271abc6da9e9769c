"""One subscriber connection to one Redis shard, for the pub/sub layer, in one event loop.

A :class:`Subscriber` keeps the set of Redis pub/sub channels this process *wants*
(``wanted``) and makes the server agree:

* :meth:`Subscriber.subscribe` returns once Redis has confirmed the subscription, so a
  message published after it returns reaches this process. Concurrent callers for the same
  name share one SUBSCRIBE and all wait for its confirmation.
* Confirmations are counted per name: every SUBSCRIBE/UNSUBSCRIBE of a name gets exactly
  one reply, in order, so a caller waits until the replies reach the command it caused
  (an unsubscribe followed by a subscribe cannot be mistaken for the older confirmation).
* One reader task reads the connection and hands every message, undecoded, to
  ``on_message(channel, data)`` (a plain function: no task per message).
* When the connection breaks (Redis restart, failover, network), the reader reconnects
  with backoff and subscribes to every wanted name again in one write; callers waiting
  meanwhile are served by the new connection. A connection attempt that fails fails the
  callers waiting for it with ``LayerConnectionError`` (so nobody waits unboundedly);
  names already held stay wanted and come back when Redis does. Messages published while
  the connection was down are lost: pub/sub keeps nothing. So once every name is
  subscribed again on the new connection, ``on_resync(names, reason)`` is called with the
  names that may have missed messages (the layer tells their local receivers).
  The connection may have been closed by Redis itself: a restart, a failover, ``CLIENT
  KILL``, or a subscriber that fell behind past the pub/sub output buffer limit.
* Failures to connect are reported to the layer's :class:`~._connection.OutageLog`
  (logged at a bounded rate); the callers waiting get the typed error
  (``BackendAuthenticationError`` for refused credentials, ...).
* An idle connection is probed with PING; one that stays silent is dropped and redone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Protocol, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from fast_channels.exceptions import LayerClosedError, LayerConnectionError
from fast_channels.layers.redis._connection import (
    REDIS_ERRORS,
    OutageLog,
    is_lasting,
    redis_failure,
)

__all__ = ["MessageHandler", "ResyncHandler", "Subscriber"]

logger = logging.getLogger("fast_channels.layers.redis.pubsub")

MessageHandler = Callable[[bytes, bytes], None]
"""Called by the reader with (Redis channel, data) for every pub/sub message."""

ResyncHandler = Callable[[frozenset[bytes], str], None]
"""Called with (Redis channels, reason) once they are subscribed again after the
connection was lost: messages published to them meanwhile are lost."""

_ERRORS: tuple[type[BaseException], ...] = (*REDIS_ERRORS, RedisError, OSError)
# A write also fails with AttributeError when redis-py drops the connection's writer (None)
# because the connection was closed while the write waited.
_WRITE_ERRORS: tuple[type[BaseException], ...] = (*_ERRORS, AttributeError)
_CHUNK = 1000
_MAX_BACKOFF = 0.5
_MAX_LASTING_BACKOFF = 5.0  # refused credentials or database: no use retrying fast


class _Connection(Protocol):
    """The few calls a subscriber makes on a redis-py asyncio connection."""

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
    async def get_connection(self) -> Any: ...

    async def release(self, connection: Any) -> None: ...


class Subscriber:
    """The subscriptions of one layer on one shard, held by one connection and one reader."""

    def __init__(
        self,
        client: Redis,
        on_message: MessageHandler,
        *,
        timeout: float,
        on_resync: ResyncHandler | None = None,
        outages: OutageLog | None = None,
        health_interval: float = 15.0,
        wanted: Iterable[bytes] = (),
        where: str = "Redis",
    ) -> None:
        self._pool = cast(_Pool, client.connection_pool)
        self._on_message = on_message
        self._on_resync = on_resync
        self._outages = outages
        self.where: str = where
        # Set when a connection that held subscriptions is lost; the names sent again on
        # the next connection, until Redis confirmed them all (then on_resync is called).
        self._lost: str | None = None
        self._resubscribing: set[bytes] = set()
        self.timeout = timeout
        self.health_interval = health_interval
        self.wanted: set[bytes] = set(wanted)
        self.reconnects = 0
        self._conn: _Connection | None = None
        self._sent: dict[bytes, int] = {}
        self._acked: dict[bytes, int] = {}
        self._waiters: dict[bytes, list[tuple[int, asyncio.Future[None]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._closed = False
        self._activity = 0
        self._pinged = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self._ping_seq = 0
        if self.wanted:
            self._start()

    # -- subscriptions ------------------------------------------------------------------

    async def subscribe(self, name: bytes) -> None:
        """Subscribe to ``name``; returns once Redis confirmed it (at once if it had).

        Raises ``LayerConnectionError`` if Redis cannot confirm within ``timeout``.
        """
        if self._closed:
            raise LayerClosedError("the channel layer is closed; create a new one")
        conn = self._conn
        added = name not in self.wanted
        if not added:
            if conn is not None and name not in self._sent:
                return
            target = self._sent.get(name, 0) if conn is not None else 0
        else:
            self.wanted.add(name)
            target = self._send(conn, b"SUBSCRIBE", name) if conn is not None else 0
        self._start()
        fut = asyncio.get_running_loop().create_future()
        entry = (target, fut)
        self._waiters.setdefault(name, []).append(entry)
        try:
            async with asyncio.timeout(self.timeout):
                await fut
        except BaseException as exc:
            self._forget_waiter(name, entry)
            if added and name not in self._waiters:
                self.unsubscribe(name)  # nobody else waits for it: do not hold it
            if isinstance(exc, TimeoutError):
                raise LayerConnectionError(
                    f"Redis did not confirm the subscription to {name.decode()!r} within "
                    f"{self.timeout}s; it is unreachable or overloaded. Retrying later is safe"
                ) from None
            raise
        self._forget_waiter(name, entry)

    def _forget_waiter(self, name: bytes, entry: tuple[int, asyncio.Future[None]]) -> None:
        waiting = self._waiters.get(name)
        if waiting is not None and entry in waiting:
            waiting.remove(entry)
            if not waiting:
                del self._waiters[name]

    def holds(self, name: bytes) -> bool:
        """Whether Redis has confirmed ``name`` on the live connection."""
        return self._conn is not None and name in self.wanted and name not in self._sent

    def unsubscribe(self, name: bytes) -> None:
        """Stop receiving ``name`` (the UNSUBSCRIBE is sent in the background)."""
        if name not in self.wanted:
            return
        self.wanted.discard(name)
        if self._conn is not None and not self._closed:
            self._send(self._conn, b"UNSUBSCRIBE", name)

    def _send(self, conn: _Connection, command: bytes, name: bytes) -> int:
        """Queue ``command name`` on ``conn`` (writes keep call order); the reply count
        that confirms it."""
        count = self._sent[name] = self._sent.get(name, 0) + 1
        self._write(conn, [(command, name)])
        return count

    def _write(self, conn: _Connection, commands: list[tuple[bytes, ...]]) -> None:
        task = asyncio.get_running_loop().create_task(self._do_write(conn, commands))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _do_write(self, conn: _Connection, commands: list[tuple[bytes, ...]]) -> None:
        if self._conn is not conn or not conn.is_connected:
            return  # the reader redoes every subscription on its next connection
        try:
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        except _WRITE_ERRORS as exc:
            logger.debug("subscriber write failed (%s); the reader reconnects", exc)

    async def sync(self) -> None:
        """Wait until every message Redis had for this connection when called is handed
        over: a PING on the subscriber connection is answered after them. No-op while
        disconnected; bounded by ``timeout``."""
        conn = self._conn
        if conn is None or self._closed:
            return
        self._ping_seq += 1
        token = b"fc-sync-%d" % self._ping_seq
        fut = self._pings[token] = asyncio.get_running_loop().create_future()
        self._write(conn, [(b"PING", token)])
        try:
            async with asyncio.timeout(self.timeout):
                await fut
        except TimeoutError:
            logger.warning("pub/sub: Redis did not answer a PING within %ss", self.timeout)
        finally:
            self._pings.pop(token, None)

    def _ack(self, name: bytes) -> None:
        acked = self._acked.get(name, 0) + 1
        if acked >= self._sent.get(name, 0):
            self._sent.pop(name, None)
            self._acked.pop(name, None)
        else:
            self._acked[name] = acked
        waiting = self._waiters.get(name)
        if waiting:
            for target, fut in waiting:
                if 0 < target <= acked and not fut.done():
                    fut.set_result(None)
        if self._resubscribing:
            self._resubscribing.discard(name)
            if not self._resubscribing:
                self._resynced()

    def _note_lost(self, exc: BaseException) -> None:
        """The connection broke: if it held confirmed subscriptions (or was still
        restoring those of an earlier one), messages to them may be lost from now on."""
        held = any(name not in self._sent for name in self.wanted)
        if self._lost is None and held:
            self._lost = (
                f"the pub/sub connection to Redis at {self.where} was lost "
                f"({type(exc).__name__}: {exc}); messages published until it was "
                "subscribed again are lost"
            )

    def _resynced(self) -> None:
        reason, self._lost = self._lost, None
        if reason is None or self._on_resync is None or self._closed:
            return
        try:
            self._on_resync(frozenset(self.wanted), reason)
        except Exception:
            logger.exception("pub/sub: telling receivers about lost messages failed")

    def _fail_waiters(self, error: BaseException) -> None:
        for waiting in self._waiters.values():
            for _, fut in waiting:
                if not fut.done():
                    fut.set_exception(error)

    # -- the reader -----------------------------------------------------------------------

    def _start(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="fast-channels pub/sub reader"
            )

    async def _run(self) -> None:
        delay = 0.0
        try:
            while not self._closed and (self.wanted or self._waiters):
                try:
                    conn = await self._connect()
                except _ERRORS as exc:
                    error = redis_failure(exc, f"subscribe on Redis at {self.where}")
                    self._fail_waiters(error)
                    if self._outages is not None:
                        self._outages.failed(error)
                    most = _MAX_LASTING_BACKOFF if is_lasting(error) else _MAX_BACKOFF
                    delay = min(max(delay * 2, 0.05), most)
                    await asyncio.sleep(delay)
                    continue
                delay = 0.0
                if self._outages is not None:
                    self._outages.recovered()
                try:
                    await self._read(conn)
                except _ERRORS as exc:
                    if not self._closed:
                        self.reconnects += 1
                        self._note_lost(exc)
                        logger.warning(
                            "pub/sub: lost the connection to Redis at %s (%s: %s); reconnecting",
                            self.where,
                            type(exc).__name__,
                            exc,
                        )
                finally:
                    await self._drop(conn)
        finally:
            self._task = None

    async def _connect(self) -> _Connection:
        conn = cast(_Connection, await self._pool.get_connection())
        self._sent, self._acked = {}, {}
        names = sorted(self.wanted)
        self._resubscribing = set(names) if self._lost is not None else set()
        if not names:
            self._lost = None
        for name in names:
            self._sent[name] = 1
        for name, waiting in list(self._waiters.items()):
            if name in self.wanted:
                self._waiters[name] = [(1, fut) for _, fut in waiting]
            else:
                for _, fut in waiting:
                    if not fut.done():
                        fut.set_result(None)
        self._conn = conn
        self._activity = 0
        self._pinged = False
        self._arm_watchdog()
        if names:
            chunks = [names[i : i + _CHUNK] for i in range(0, len(names), _CHUNK)]
            self._write(conn, [(b"SUBSCRIBE", *chunk) for chunk in chunks])
        return conn

    async def _read(self, conn: _Connection) -> None:
        read = conn.read_response
        on_message = self._on_message
        while True:
            try:
                # push_request: under RESP3 (redis-py's default) pub/sub replies are pushes.
                reply = await read(disable_decoding=True, timeout=math.inf, push_request=True)
            except ResponseError as exc:  # e.g. -NOPERM answering SUBSCRIBE (redis-py >= 6)
                reply = exc
            self._activity += 1
            if self._closed:
                return
            if not isinstance(reply, list):
                if isinstance(reply, ResponseError):  # returned by older redis-py
                    self._refused(reply)
                else:
                    self._pong(reply)  # RESP3 answers PING <token> with the bare token
                continue
            parts = cast(list[bytes], reply)
            kind = parts[0]
            if kind == b"message":
                try:
                    on_message(parts[1], parts[2])
                except Exception:
                    logger.exception("pub/sub: delivering a message on %r failed", parts[1])
            elif kind == b"subscribe" or kind == b"unsubscribe":
                self._ack(parts[1])
            elif kind == b"pong":
                self._pong(parts[1])

    def _refused(self, reply: ResponseError) -> None:
        """Redis refused a command of ours (a SUBSCRIBE the ACL forbids): fail everyone
        waiting (which name it was, Redis does not say) and log it."""
        error = redis_failure(reply, f"subscribe on Redis at {self.where}")
        self._fail_waiters(error)
        logger.error("pub/sub: %s", error)

    def _pong(self, token: object) -> None:
        fut = self._pings.pop(token, None) if isinstance(token, bytes) else None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _arm_watchdog(self) -> None:
        self._watchdog = asyncio.get_running_loop().call_later(
            self.health_interval, self._check_health, self._activity
        )

    def _check_health(self, seen: int) -> None:
        conn = self._conn
        if conn is None or self._closed:
            return
        if self._activity != seen:
            self._pinged = False
        elif not self._pinged:
            self._pinged = True
            self._write(conn, [(b"PING",)])
        else:
            logger.warning("pub/sub: Redis stopped answering; reconnecting")
            self._spawn(conn.disconnect(nowait=True))
            return
        self._arm_watchdog()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _drop(self, conn: _Connection) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._conn = None
        try:
            await conn.disconnect(nowait=True)
        finally:
            await self._pool.release(conn)

    # -- lifecycle ------------------------------------------------------------------------

    def retire(self) -> set[bytes]:
        """Stop delivering (the loop that runs this is gone or idle); what it wanted.

        The reader is cancelled on its loop when that loop next runs, which closes the
        connection; a closed loop has nothing left to run.
        """
        self._closed = True
        task = self._task
        if task is not None and not task.get_loop().is_closed():
            with contextlib.suppress(RuntimeError):  # closed in the meantime
                task.get_loop().call_soon_threadsafe(task.cancel)
        return self.wanted

    async def aclose(self) -> None:
        """Stop the reader, close the connection and fail waiting subscribers."""
        self._closed = True
        self._fail_waiters(LayerClosedError("the channel layer is closed; create a new one"))
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        if self._writes:
            await asyncio.wait(list(self._writes))

    def statistics(self) -> dict[str, int]:
        """Current subscriptions and reconnections so far."""
        return {"subscriptions": len(self.wanted), "reconnects": self.reconnects}
