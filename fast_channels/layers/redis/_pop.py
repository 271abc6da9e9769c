"""A blocking pop (``BLMPOP``) whose reply is never thrown away with its connection.

``BLMPOP`` is destructive: the moment Redis answers, the entries are gone from the list,
and the reply on the wire is the only copy. A reader must therefore not give up on a reply
Redis has sent. The usual client read timeout does exactly that when the event loop
stalls (a handler that blocks, a long garbage collection): the reply arrives during the
stall, the timeout's deadline passes during the stall too, and when the loop runs again
the timeout fires and the connection is closed with the popped entries in it.

So a :class:`BlockingPop` reads with a deadline of its own (:class:`~._deadline.Deadline`)
that counts only time the event loop was running: a deadline that comes due while the loop
was stalled is moved on, and a due deadline expires only after the reader has had its turn
at whatever arrived in the same loop iteration. A reply that reached the socket is read.
The deadline still ends a read that gets no reply while the loop runs (Redis paused or
gone), within ``timeout`` seconds of running time; then the connection is closed and a new
one is taken. The read itself is cancel-safe (redis-py's parsers keep what they have
read), so leaving it by the deadline costs nothing but the connection.

Each reader (the inbox reader, a named channel's reader) keeps one connection of its own
from the layer's pool while it runs, so a pop costs no trip through the pool, and the
connection's own ``socket_timeout`` is lifted while it is held (restored when it goes
back): it would put redis-py's own read timeout back on top.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

from redis.exceptions import TimeoutError as RedisTimeoutError

from fast_channels.layers.redis._connection import RawConnection, RawPool, discard_connection
from fast_channels.layers.redis._deadline import Deadline
from fast_channels.layers.redis._pipe import Arg, pack

__all__ = ["BlockingPop"]


class _Reads(Protocol):
    """The redis-py connection call a reader makes with the connection kept on error."""

    async def read_response(self, *, disconnect_on_error: bool) -> object: ...


class BlockingPop:
    """Pops entries from the head of one Redis list, waiting up to ``block`` seconds for
    one, on a connection of its own from ``pool`` (see module docstring).

    Any error (or cancellation) while a command is on the wire closes the connection; the
    next call takes a new one. :meth:`release` gives the connection back to the pool.
    """

    __slots__ = ("_block", "_conn", "_grace", "_key", "_packed", "_pool", "_restore", "_timeout")

    def __init__(self, *, pool: RawPool, key: str, block: float, timeout: float) -> None:
        self._pool = pool
        self._key = key
        self._block = block
        self._timeout = timeout
        self._grace = min(timeout, 1.0)
        self._conn: RawConnection | None = None
        self._restore: float | None = None
        self._packed: dict[int, list[bytes]] = {}

    async def pop(self, count: int) -> list[bytes]:
        """Up to ``count`` entries from the head of the list; [] if none came within
        ``block`` seconds."""
        packed = self._packed.get(count)
        if packed is None:
            if len(self._packed) > 64:
                self._packed.clear()
            command = ("BLMPOP", self._block, 1, self._key, "LEFT", "COUNT", count)
            packed = self._packed[count] = [pack([command])]
        reply = await self._call(packed)
        if not reply:
            return []
        return cast(list[bytes], cast(list[object], reply)[1])

    async def push_back(self, entries: list[bytes]) -> None:
        """Put ``entries`` back at the head of the list, in their order."""
        command: tuple[Arg, ...] = ("LPUSH", self._key, *reversed(entries))
        await self._call([pack([command])])

    async def _call(self, packed: list[bytes]) -> object:
        conn = self._conn
        if conn is None:
            conn = self._conn = await self._pool.get_connection()
            self._restore, conn.socket_timeout = conn.socket_timeout, None
        try:
            await conn.send_packed_command(packed, check_health=False)
            return await self._read(conn)
        except BaseException:
            await self._drop()
            raise

    async def _read(self, conn: RawConnection) -> object:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as scope:
                deadline = Deadline(loop, scope, self._timeout, self._grace)
                try:
                    return await cast(_Reads, conn).read_response(disconnect_on_error=False)
                finally:
                    deadline.cancel()
        except TimeoutError:
            raise RedisTimeoutError(
                f"no reply from Redis to a pop of {self._key} within {self._timeout}s "
                "of the event loop running"
            ) from None

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.socket_timeout = self._restore
            await discard_connection(self._pool, conn)

    async def release(self) -> None:
        """Give the connection back to the pool (between calls: no reply is pending)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.socket_timeout = self._restore
            await self._pool.release(conn)
