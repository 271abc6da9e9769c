"""Automatic pipelining: the commands of one event loop to one Redis server share round trips.

A :class:`CommandPipe` owns one connection (taken from the layer's pool) and one writer
task. ``submit()`` queues a command and returns a future; the writer sends everything
queued so far in a single write, reads the replies in order and resolves the futures.
While a round trip is in flight, new commands gather for the next one, so N concurrent
senders cost about one round trip, not N. Commands of one pipe run in submission order.

Lua scripts are called by SHA (``EVALSHA``): they are loaded on every new connection, and
a script the server forgot (``NOSCRIPT``, after ``SCRIPT FLUSH``) is re-sent as ``EVAL``.

Time bound: each round trip, connecting included, must end within ``socket_timeout`` of
its start, counted in event-loop running time (:class:`~._deadline.Deadline`: a loop that
stalled, or a reply already in the socket, is not Redis failing to answer). When a round
trip fails because Redis is unreachable or did not answer, the commands queued behind it
fail with it: they were submitted after it started, so every command submitted to a Redis
that stopped answering fails within ``socket_timeout`` of being submitted, and a burst
that merely waits its turn behind round trips Redis answers never times out. Every
command of a failed round trip gets the typed error of :func:`~._connection.redis_failure`
(``LayerConnectionError`` when Redis is unreachable, ``BackendRefusedError`` for a command
Redis refused, ...); the next command reconnects. A cancelled caller does not cancel its
command, which may still run.

``limits=True`` (the pub/sub layer) also reads the server's pub/sub client output buffer
limit each time the pipe connects (``CONFIG GET client-output-buffer-limit``, before any
command is sent): :attr:`CommandPipe.pubsub_limit`.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio.connection import ConnectionPool
from redis.exceptions import NoScriptError, ResponseError

from fast_channels.exceptions import LayerClosedError, LayerConnectionError
from fast_channels.layers.redis._connection import (
    OutageLog,
    RawConnection,
    RawPool,
    discard_connection,
    load_script,
    redis_failure,
)
from fast_channels.layers.redis._deadline import Deadline

__all__ = [
    "DEFAULT_PUBSUB_LIMIT",
    "UNCHECKED_PUBLISH",
    "Arg",
    "CommandPipe",
    "Script",
    "pack",
    "publish_max",
    "pubsub_limit",
]

DEFAULT_PUBSUB_LIMIT = 32 * 1024 * 1024
"""Redis's default hard limit of a pub/sub client's output buffer (``32mb``)."""

UNCHECKED_PUBLISH = 64 * 1024
"""Bytes a message may have to be published before the pipe has read the server's limit."""


def publish_max(limit: int) -> int:
    """The largest message to publish to a server whose pub/sub output buffer hard limit
    is ``limit`` bytes (0: none): 3/4 of it. Redis counts the memory it allocates for the
    message, rounded up to its allocator's size classes (up to 25% more), and disconnects
    a subscriber as soon as that reaches the limit."""
    return limit * 3 // 4 if limit > 0 else sys.maxsize


Arg = str | bytes | int | float
"""One argument of a Redis command."""


def _hiredis_pack_command() -> Callable[[tuple[Arg, ...]], bytes] | None:
    """hiredis's RESP encoder (in C, 2.5x faster than :func:`pack`'s own), if installed
    (redis-py's hiredis extra, which ``fast-channels[redis]`` asks for)."""
    try:
        import hiredis
    except ImportError:  # pragma: no cover - redis-py installed without hiredis
        return None
    found: object = getattr(hiredis, "pack_command", None)  # hiredis >= 2.1
    return cast("Callable[[tuple[Arg, ...]], bytes] | None", found)


_pack_command = _hiredis_pack_command()


def pack(commands: Sequence[tuple[Arg, ...]]) -> bytes:
    """``commands`` in the Redis protocol (RESP), ready to write in one go."""
    if _pack_command is not None:
        try:
            return b"".join([_pack_command(command) for command in commands])
        except TypeError:  # e.g. an int or str subclass, which hiredis refuses
            pass
    return pack_in_python(commands)


def pack_in_python(commands: Sequence[tuple[Arg, ...]]) -> bytes:
    """:func:`pack` without hiredis."""
    out: list[bytes] = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for arg in command:
            if isinstance(arg, str):
                arg = arg.encode("utf-8")
            elif isinstance(arg, int):
                arg = b"%d" % arg
            elif isinstance(arg, float):
                arg = repr(arg).encode("ascii")
            out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


@dataclass(frozen=True)
class Script:
    """A Lua script shipped in ``_scripts/``, called by its SHA1."""

    name: str
    source: str = field(repr=False)
    sha: str = field(repr=False)

    @classmethod
    def load(cls, name: str) -> Script:
        """The script ``_scripts/<name>.lua``."""
        source = load_script(name)
        return cls(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())


def pubsub_limit(reply: object) -> int:
    """The pub/sub hard limit in bytes from a ``CONFIG GET client-output-buffer-limit``
    reply (0: none), or :data:`DEFAULT_PUBSUB_LIMIT` if the reply does not say."""
    if isinstance(reply, dict):  # RESP3
        reply = next(iter(cast(dict[object, object], reply).items()), None)
    if isinstance(reply, list | tuple) and len(cast(Sequence[object], reply)) == 2:
        value = cast(Sequence[object], reply)[1]
        words = value.decode() if isinstance(value, bytes) else str(value)
        parts = words.split()
        for i in range(0, len(parts) - 3, 4):
            if parts[i] == "pubsub" and parts[i + 1].isdigit():
                return int(parts[i + 1])
    return DEFAULT_PUBSUB_LIMIT


class _Command:
    __slots__ = ("args", "future", "script")

    def __init__(
        self, args: tuple[Arg, ...], future: asyncio.Future[object], script: Script | None
    ) -> None:
        self.args = args
        self.future = future
        self.script = script


class CommandPipe:
    """One event loop's pipelined connection to one Redis server (see module docstring)."""

    def __init__(
        self,
        pool: ConnectionPool,
        scripts: Sequence[Script],
        what: str,
        *,
        timeout: float | None = None,
        limits: bool = False,
        outages: OutageLog | None = None,
    ) -> None:
        self._pool = cast(RawPool, pool)
        self._scripts = tuple(scripts)
        self._what = what
        if timeout is None:
            timeout = cast(float | None, pool.connection_kwargs.get("socket_timeout")) or 5.0
        self._timeout = timeout
        self._outages = outages
        self.limits: bool = limits
        """Whether each connection reads :attr:`pubsub_limit` (set before the first command)."""
        self.pubsub_limit: int = DEFAULT_PUBSUB_LIMIT
        """The server's pub/sub output buffer hard limit in bytes, 0 for none (read at
        each connection with ``limits=True``; Redis's default until then)."""
        self.publish_max: int = UNCHECKED_PUBLISH
        """The largest message to publish now: :func:`publish_max` of the limit read on
        the live connection, :data:`UNCHECKED_PUBLISH` while there is none (then call
        :meth:`ready` and look again)."""
        self._loop = asyncio.get_running_loop()
        self._grace = min(timeout, 1.0)
        self._queue: list[_Command] = []
        self._conn: RawConnection | None = None
        self._busy = False
        self._idle: asyncio.Future[None] | None = None
        self._task = self._loop.create_task(self._run(), name=f"fast-channels pipe {what}")
        self.round_trips = 0
        self.commands = 0
        self.errors = 0

    async def script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> object:
        """Run ``EVALSHA script`` and return its reply.

        A lone caller runs its round trip itself (no task switch); while a round trip is
        in flight, the command joins the next batch of the writer task instead.
        """
        return await self._call(("EVALSHA", script.sha, len(keys), *keys, *args), script)

    async def command(self, *args: Arg) -> object:
        """Run one plain command (e.g. ``PUBLISH``) and return its reply, batched like
        :meth:`script`."""
        return await self._call(args, None)

    async def ready(self) -> None:
        """Connect now unless connected (no round trip then): raises what connecting
        raises (e.g. ``BackendAuthenticationError``), within ``socket_timeout``."""
        if self._conn is None:
            await self.command(b"PING")

    async def _call(self, command: tuple[Arg, ...], script: Script | None) -> object:
        if self._busy or self._queue or self._task.done():
            return await self._submit(command, script)
        self._busy = True
        cmd = _Command(command, self._loop.create_future(), script)
        try:
            async with asyncio.timeout(None) as scope:
                deadline = Deadline(self._loop, scope, self._timeout, self._grace)
                try:
                    await self._round_trip(self._conn or await self._connect(), [cmd])
                finally:
                    deadline.cancel()
        except Exception as exc:  # connection errors, or e.g. -BUSY answering SCRIPT LOAD
            await self._fail(exc, [cmd])
        except BaseException:  # cancelled mid round trip: the reply is still on the wire
            await self._drop()
            raise
        finally:
            self._busy = False
            if self._queue:
                self._wake()
        return await cmd.future

    def submit_script(
        self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> asyncio.Future[object]:
        """Queue ``EVALSHA script`` for the writer's next round trip; the future holds the
        reply. Commands queued this way run in order, before any later :meth:`script`."""
        return self._submit(("EVALSHA", script.sha, len(keys), *keys, *args), script)

    def _submit(self, args: tuple[Arg, ...], script: Script | None) -> asyncio.Future[object]:
        if self._task.done():
            raise LayerClosedError(
                f"the connection to Redis at {self._what} of this event loop was closed"
            )
        future: asyncio.Future[object] = self._loop.create_future()
        self._queue.append(_Command(args, future, script))
        if not self._busy:
            self._wake()
        return future

    def _wake(self) -> None:
        idle = self._idle
        if idle is not None and not idle.done():
            idle.set_result(None)

    async def _run(self) -> None:
        try:
            while True:
                if not self._queue or self._busy:
                    self._idle = self._loop.create_future()
                    await self._idle
                    continue
                batch, self._queue = self._queue, []
                self._busy = True
                try:
                    async with asyncio.timeout(None) as scope:
                        deadline = Deadline(self._loop, scope, self._timeout, self._grace)
                        try:
                            await self._round_trip(self._conn or await self._connect(), batch)
                        finally:
                            deadline.cancel()
                except Exception as exc:  # the writer must outlive any one batch
                    await self._fail(exc, batch)
                except BaseException:
                    self._queue[0:0] = [cmd for cmd in batch if not cmd.future.done()]
                    raise
                finally:
                    self._busy = False
        finally:
            closed = LayerClosedError(
                f"the channel layer was closed while a command for {self._what} waited"
            )
            for cmd in self._queue:
                if not cmd.future.done():
                    cmd.future.set_exception(closed)
            self._queue = []
            await self._drop()

    async def _fail(self, exc: BaseException, batch: list[_Command]) -> None:
        self.errors += 1
        if isinstance(exc, TimeoutError) and not str(exc):
            exc = TimeoutError(f"no answer within socket_timeout={self._timeout}s")
        error = redis_failure(exc, f"run a command on Redis at {self._what}")
        failed = batch
        if isinstance(error, LayerConnectionError):
            # Queued behind a round trip Redis did not answer: fail them now (see module
            # docstring, time bound) rather than make each wait for a reconnection.
            failed, self._queue = [*batch, *self._queue], []
            if self._outages is not None:
                self._outages.failed(error)
        for cmd in failed:
            if not cmd.future.done():
                cmd.future.set_exception(error)
        await self._drop()

    async def _connect(self) -> RawConnection:
        conn = self._conn = await self._pool.get_connection()
        loads: list[tuple[Arg, ...]] = [("SCRIPT", "LOAD", s.source) for s in self._scripts]
        if self.limits:
            loads.append(("CONFIG", "GET", "client-output-buffer-limit"))
        try:
            if loads:
                await conn.send_packed_command([pack(loads)], check_health=False)
                for _ in self._scripts:
                    await conn.read_response()
                if self.limits:
                    self.pubsub_limit = await self._read_limit(conn)
                    self.publish_max = publish_max(self.pubsub_limit)
        except BaseException:
            await self._drop()
            raise
        if self._outages is not None:
            self._outages.recovered()
        return conn

    @staticmethod
    async def _read_limit(conn: RawConnection) -> int:
        try:
            return pubsub_limit(await conn.read_response())
        except ResponseError:  # CONFIG not allowed here (ACL, managed Redis): the default
            return DEFAULT_PUBSUB_LIMIT

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self.publish_max = UNCHECKED_PUBLISH
        if conn is not None:
            await discard_connection(self._pool, conn)

    async def _round_trip(self, conn: RawConnection, batch: list[_Command]) -> None:
        self.round_trips += 1
        self.commands += len(batch)
        retries: list[_Command] = []
        # The caller's deadline bounds the whole round trip, write and every reply,
        # instead of redis-py's own: with socket_timeout set it wraps each write in
        # asyncio.wait_for (a task per write, ~16 us) and opens a timeout per reply.
        timeout = conn.socket_timeout
        conn.socket_timeout = None
        try:
            await conn.send_packed_command([pack([cmd.args for cmd in batch])], check_health=False)
            await self._read_replies(conn, batch, retries)
        finally:
            conn.socket_timeout = timeout
            if retries:  # Redis lost its scripts: resend in the original order, first
                self._queue[0:0] = retries

    async def _read_replies(
        self, conn: RawConnection, batch: list[_Command], retries: list[_Command]
    ) -> None:
        for cmd in batch:
            try:
                reply = await conn.read_response()
            except NoScriptError:
                if cmd.script is not None:
                    args = ("EVAL", cmd.script.source, *cmd.args[2:])
                    retries.append(_Command(args, cmd.future, None))
                    continue
                reply = ResponseError("NOSCRIPT")
            except ResponseError as exc:
                reply = exc
            if cmd.future.done():
                continue
            if isinstance(reply, ResponseError):
                cmd.future.set_exception(
                    redis_failure(reply, f"run a command on Redis at {self._what}")
                )
            else:
                cmd.future.set_result(reply)

    async def aclose(self) -> None:
        """Stop the writer and release its connection; queued commands are cancelled."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
