"""Automatic pipelining: the commands of one event loop to one Redis server share round trips.

A :class:`CommandPipe` owns one connection (taken from the layer's pool) and one writer
task. ``submit()`` queues a command and returns a future; the writer sends everything
queued so far in a single write, reads the replies in order and resolves the futures.
While a round trip is in flight, new commands gather for the next one, so N concurrent
senders cost about one round trip, not N. Commands of one pipe run in submission order.

Lua scripts are called by SHA (``EVALSHA``): they are loaded on every new connection, and
a script the server forgot (``NOSCRIPT``, after ``SCRIPT FLUSH``) is re-sent as ``EVAL``.

Redis unreachable: every command of the failed round trip gets a ``LayerConnectionError``
(never a hang: reads are bounded by the pool's ``socket_timeout``); the next command
reconnects. A cancelled caller does not cancel its command, which may still run.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from redis.asyncio.connection import ConnectionPool
from redis.exceptions import NoScriptError, ResponseError

from fast_channels.layers.redis._connection import REDIS_ERRORS, connection_error, load_script

__all__ = ["Arg", "CommandPipe", "Script"]

Arg = str | bytes | int | float
"""One argument of a Redis command."""


class _Connection(Protocol):
    """The few calls the pipe makes on a redis-py asyncio connection."""

    def pack_commands(self, commands: list[tuple[Arg, ...]]) -> list[bytes]: ...

    async def send_packed_command(
        self, command: list[bytes], check_health: bool = True
    ) -> None: ...

    async def read_response(self) -> object: ...

    async def disconnect(self) -> None: ...


class _Pool(Protocol):
    """The two calls the pipe makes on a redis-py asyncio connection pool."""

    async def get_connection(self) -> _Connection: ...

    async def release(self, connection: _Connection) -> None: ...


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

    def __init__(self, pool: ConnectionPool, scripts: Sequence[Script], what: str) -> None:
        self._pool = cast(_Pool, pool)
        self._scripts = tuple(scripts)
        self._what = what
        self._loop = asyncio.get_running_loop()
        self._queue: list[_Command] = []
        self._idle: asyncio.Future[None] | None = None
        self._task = self._loop.create_task(self._run(), name=f"fast-channels pipe {what}")
        self.round_trips = 0
        self.commands = 0
        self.errors = 0

    def submit(self, *args: Arg) -> asyncio.Future[object]:
        """Queue one command for the next round trip; its future holds the reply."""
        return self._submit(args, None)

    def submit_script(
        self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> asyncio.Future[object]:
        """Queue ``EVALSHA script`` with ``keys`` and ``args`` for the next round trip."""
        return self._submit(("EVALSHA", script.sha, len(keys), *keys, *args), script)

    def _submit(self, args: tuple[Arg, ...], script: Script | None) -> asyncio.Future[object]:
        if self._task.done():
            raise RuntimeError("this command pipe is closed")
        future: asyncio.Future[object] = self._loop.create_future()
        self._queue.append(_Command(args, future, script))
        idle = self._idle
        if idle is not None and not idle.done():
            idle.set_result(None)
        return future

    async def _run(self) -> None:
        conn: _Connection | None = None
        try:
            while True:
                if not self._queue:
                    self._idle = self._loop.create_future()
                    await self._idle
                    continue
                batch, self._queue = self._queue, []
                try:
                    if conn is None:
                        conn = await self._connect()
                    await self._round_trip(conn, batch)
                except REDIS_ERRORS as exc:
                    self.errors += 1
                    if conn is not None:
                        await self._drop(conn)
                        conn = None
                    error = connection_error(exc, f"run a command on Redis at {self._what}")
                    for cmd in batch:
                        if not cmd.future.done():
                            cmd.future.set_exception(error)
        finally:
            for cmd in self._queue:
                cmd.future.cancel()
            if conn is not None:
                await self._drop(conn)

    async def _connect(self) -> _Connection:
        conn = await self._pool.get_connection()
        loads: list[tuple[Arg, ...]] = [("SCRIPT", "LOAD", s.source) for s in self._scripts]
        try:
            if loads:
                await conn.send_packed_command(conn.pack_commands(loads), check_health=False)
                for _ in loads:
                    await conn.read_response()
        except BaseException:
            await self._drop(conn)
            raise
        return conn

    async def _drop(self, conn: _Connection) -> None:
        try:
            await conn.disconnect()
        finally:
            await self._pool.release(conn)

    async def _round_trip(self, conn: _Connection, batch: list[_Command]) -> None:
        self.round_trips += 1
        self.commands += len(batch)
        await conn.send_packed_command(
            conn.pack_commands([cmd.args for cmd in batch]), check_health=False
        )
        for cmd in batch:
            try:
                reply = await conn.read_response()
            except NoScriptError:
                if cmd.script is not None:
                    args = ("EVAL", cmd.script.source, *cmd.args[2:])
                    self._queue.insert(0, _Command(args, cmd.future, None))
                    continue
                reply = ResponseError("NOSCRIPT")
            except ResponseError as exc:
                reply = exc
            if cmd.future.done():
                continue
            if isinstance(reply, ResponseError):
                cmd.future.set_exception(reply)
            else:
                cmd.future.set_result(reply)

    async def aclose(self) -> None:
        """Stop the writer and release its connection; queued commands are cancelled."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
