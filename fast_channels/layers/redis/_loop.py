"""What a Redis layer keeps per event loop: clients, pipes, reader tasks, and their end.

redis-py connections belong to the loop that opened them, so a layer used from several
loops in turn (pytest-asyncio's per-test loops, a sync thread's loop) keeps its clients
per loop. :class:`LoopClients` holds one loop's clients and a command pipe per shard, with
a :class:`~._connection.LoopKeeper` that does nothing until it is cancelled, by
``aclose()`` or by the loop shutting down (``asyncio.run`` and ``asyncio.Runner`` cancel
every task before closing a loop); then the layer's cleanup stops what it runs there and
:meth:`LoopClients.close_clients` closes the loop's connections, so no socket outlives
its loop. Both Redis layers build on it; :class:`LoopState` is the queue layer's, with
its reader tasks.

Ending is made robust against two asyncio traps: a keeper cancelled before its first step
never runs its ``finally`` (so :meth:`LoopClients.aclose` runs the cleanup itself if it
has not run), and a cancellation swallowed by ``asyncio.wait_for`` on Python 3.11 (so
tasks are cancelled again until they end, :func:`stop`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import cast

from fast_channels.layers._local import LocalCore
from fast_channels.layers.redis._connection import LoopKeeper, RawPool, RedisConnection
from fast_channels.layers.redis._inbox import Commands, InboxReader
from fast_channels.layers.redis._named import NamedReader
from fast_channels.layers.redis._pipe import CommandPipe, Script

__all__ = ["CANCEL_AGAIN", "LoopClients", "LoopState", "stop"]

CANCEL_AGAIN = 0.5
"""Seconds a stopped task is given to end before it is cancelled again (see :func:`stop`)."""


async def stop(end: Callable[[], Awaitable[object]]) -> None:
    """Await ``end()`` (which cancels a task and waits for it), again every
    :data:`CANCEL_AGAIN` seconds until it returns.

    On Python 3.11 a cancellation that lands just as ``asyncio.wait_for`` sees its inner
    task finish is swallowed, and redis-py wraps its writes (a connection's handshake
    among them) in ``asyncio.wait_for``: a task cancelled once while it connects may go on
    as if nothing happened, and whoever waits for it would wait forever.
    """
    ending = asyncio.ensure_future(end())
    while True:
        done, _ = await asyncio.wait({ending}, timeout=CANCEL_AGAIN)
        if done:
            ending.result()
            return
        ending = asyncio.ensure_future(end())


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class LoopClients:
    """One event loop's clients of a layer, a command pipe per shard (loading ``scripts``),
    and the keeper that awaits ``cleanup()`` when the loop ends or the layer closes."""

    __slots__ = ("_cleaned", "_cleanup", "_conn", "clients", "keeper", "loop", "pipes")

    def __init__(
        self,
        conn: RedisConnection,
        scripts: Sequence[Script],
        cleanup: Callable[[], Awaitable[None]],
        *,
        name: str,
    ) -> None:
        self._conn = conn
        self.clients = conn.clients()
        where = conn.describe()
        self.pipes = [
            CommandPipe(c.connection_pool, scripts, where, outages=conn.outages)
            for c in self.clients
        ]
        self._cleanup = cleanup
        self._cleaned = False
        self.keeper = LoopKeeper(self._clean_once, name=name)
        self.loop = self.keeper.loop

    async def _clean_once(self) -> None:
        if not self._cleaned:
            self._cleaned = True
            await self._cleanup()

    async def close_clients(self) -> None:
        """Close the pipes, then the clients (run by the cleanup, on this loop)."""
        try:
            for pipe in self.pipes:
                await stop(pipe.aclose)
        finally:
            await self._conn.close_loop(self.clients)

    async def delete_keys(self, pattern: str) -> None:
        """Delete every key matching ``pattern`` on every host (SCAN + UNLINK)."""
        for client in cast(list[Commands], self.clients):
            cursor = 0
            while True:
                reply = await client.execute_command(
                    "SCAN", cursor, "MATCH", pattern, "COUNT", 1000
                )
                cursor = int(cast(list[bytes], reply)[0])
                keys = cast(list[list[bytes]], reply)[1]
                if keys:
                    await client.execute_command("UNLINK", *keys)
                if cursor == 0:
                    break

    async def aclose(self) -> None:
        """Run the cleanup now and wait for it (call it from this loop)."""
        await self.keeper.aclose()
        await self._clean_once()  # a keeper cancelled before its first step never ran it


class LoopState(LoopClients):
    """One event loop's clients, pipes and tasks of one queue layer: the reader of its
    inbox, made by ``inbox_reader(pool, key)``, one reader per named channel received on,
    and the watcher of the layer's data in Redis if it runs on this loop (``watch``)."""

    def __init__(
        self,
        *,
        conn: RedisConnection,
        scripts: Sequence[Script],
        local: LocalCore,
        block: float,
        timeout: float,
        inbox_reader: Callable[[RawPool, str], InboxReader],
        forget: Callable[[LoopState], None],
    ) -> None:
        super().__init__(conn, scripts, self._shutdown, name="fast-channels loop keeper")
        self._local = local
        self._block = block
        self._timeout = timeout
        self._inbox_reader = inbox_reader
        self._forget = forget
        self.inbox: InboxReader | None = None
        self.named: dict[str, NamedReader] = {}
        self.watcher: asyncio.Task[None] | None = None
        self.closed = False

    def ensure_inbox_reader(self, key: str, shard: int, stopped: Callable[[], None]) -> None:
        """Start this loop's reader of inbox ``key`` (on host ``shard``) unless it runs;
        ``stopped()`` is called when a reader started here ends."""
        if self.inbox is not None and not self.inbox.task.done():
            return
        self.inbox = self._inbox_reader(cast(RawPool, self.clients[shard].connection_pool), key)
        self.inbox.task.add_done_callback(lambda _: stopped())

    def watch(self, watcher: Coroutine[object, object, None]) -> None:
        """Run ``watcher`` on this loop until the loop ends or the layer closes."""
        self.watcher = self.loop.create_task(watcher, name="fast-channels queue watcher")

    @property
    def watching(self) -> bool:
        """Whether a watcher started by :meth:`watch` runs here."""
        return self.watcher is not None and not self.watcher.done()

    def named_reader(self, channel: str, key: str) -> NamedReader:
        """The reader of named ``channel`` on this loop (made on first use)."""
        reader = self.named.get(channel)
        if reader is None:
            if len(self.named) > 1000:
                self.named = {c: r for c, r in self.named.items() if r.waiting > 0}
            reader = self.named[channel] = NamedReader(
                pool=cast(RawPool, self.clients[self._conn.shard_for(channel)].connection_pool),
                key=key,
                channel=channel,
                local=self._local,
                block=self._block,
                timeout=self._timeout,
            )
        return reader

    def statistics(self) -> dict[str, int]:
        """Round trips, commands, reader batches and Redis errors of this loop."""
        inbox = self.inbox
        return {
            "round_trips": sum(p.round_trips for p in self.pipes),
            "commands": sum(p.commands for p in self.pipes),
            "reader_batches": inbox.batches if inbox else 0,
            "redis_errors": sum(p.errors for p in self.pipes)
            + (inbox.errors if inbox else 0)
            + sum(r.errors for r in self.named.values()),
        }

    async def _shutdown(self) -> None:
        self.closed = True
        self._forget(self)
        tasks = [r.task for r in self.named.values() if r.task is not None]
        if self.watcher is not None:
            tasks.append(self.watcher)
        if self.inbox is not None:
            tasks.append(self.inbox.task)
        await asyncio.gather(*(stop(functools.partial(_cancelled, task)) for task in tasks))
        await self.close_clients()
