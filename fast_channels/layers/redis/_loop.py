"""What the queue layer keeps per event loop: clients, pipes, reader tasks, and their end.

redis-py connections belong to the loop that opened them, so a layer used from several
loops in turn (pytest-asyncio's per-test loops, a sync thread's loop) keeps one
:class:`LoopState` per loop. Its *keeper* task does nothing until it is cancelled, by
``aclose()`` or by the loop shutting down (``asyncio.run`` and ``asyncio.Runner`` cancel
every task before closing a loop); then it stops the loop's readers and pipes and
closes the loop's connections, so no socket outlives its loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import cast

from fast_channels.layers._local import LocalCore
from fast_channels.layers.redis._acks import Acks
from fast_channels.layers.redis._connection import RawPool, RedisConnection, close_client
from fast_channels.layers.redis._inbox import Commands, InboxReader
from fast_channels.layers.redis._named import NamedReader
from fast_channels.layers.redis._pipe import CommandPipe, Script
from fast_channels.types import Message

__all__ = ["LoopState"]


class LoopState:
    """One event loop's clients, pipes and reader tasks of one queue layer."""

    def __init__(
        self,
        *,
        conn: RedisConnection,
        local: LocalCore,
        acks: Acks,
        scripts: Sequence[Script],
        report: Callable[[bool], None],
        decode: Callable[[str, bytes], Message | None],
        batch: int,
        block: float,
        reconcile_every: float,
        forget: Callable[[LoopState], None],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._conn = conn
        self._local = local
        self._acks = acks
        self._report = report
        self._decode = decode
        self._batch = batch
        self._block = block
        self._reconcile_every = reconcile_every
        self._forget = forget
        self.clients = conn.clients()
        where = conn.describe()
        self.pipes = [CommandPipe(c.connection_pool, scripts, where) for c in self.clients]
        self.inbox: InboxReader | None = None
        self.named: dict[str, NamedReader] = {}
        self.closed = False
        self.keeper = self.loop.create_task(self._keep(), name="fast-channels loop keeper")

    def ensure_inbox_reader(self, key: str, shard: int, stopped: Callable[[], None]) -> None:
        """Start this loop's reader of inbox ``key`` (on host ``shard``) unless it runs;
        ``stopped()`` is called when a reader started here ends."""
        if self.inbox is not None and not self.inbox.task.done():
            return
        self.inbox = InboxReader(
            pool=cast(RawPool, self.clients[shard].connection_pool),
            key=key,
            local=self._local,
            acks=self._acks,
            report=self._report,
            decode=self._decode,
            batch=self._batch,
            block=self._block,
            reconcile_every=self._reconcile_every,
        )
        self.inbox.task.add_done_callback(lambda _: stopped())

    def named_reader(self, channel: str, key: str) -> NamedReader:
        """The reader of named ``channel`` on this loop (made on first use)."""
        reader = self.named.get(channel)
        if reader is None:
            if len(self.named) > 1000:
                self.named = {c: r for c, r in self.named.items() if r.waiting > 0}
            reader = self.named[channel] = NamedReader(
                client=cast(Commands, self.clients[self._conn.shard_for(channel)]),
                key=key,
                channel=channel,
                local=self._local,
                block=self._block,
            )
        return reader

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

    async def _keep(self) -> None:
        try:
            await self.loop.create_future()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        self.closed = True
        self._forget(self)
        tasks = [r.task for r in self.named.values() if r.task is not None]
        if self.inbox is not None:
            tasks.append(self.inbox.task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pipe in self.pipes:
            await pipe.aclose()
        for client in self.clients:
            await close_client(client)
        self._conn.forget_loop(self.loop)

    async def aclose(self) -> None:
        """Stop everything of this loop and close its connections (from this loop)."""
        self.keeper.cancel()
        await asyncio.gather(self.keeper, return_exceptions=True)
