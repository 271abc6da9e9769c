"""The raw redis-py ceiling: the least Python a channel layer on redis-py can run.

Two minimal designs with the channel-layer surface the scenarios use, so that each
scenario runs unchanged over a layer or a ceiling:

* :class:`RawListLayer` — one Redis list per process as its inbox (``RPUSH`` to send, one
  reader task draining it with ``BLMPOP … COUNT``); a group is a Redis set of inboxes and
  ``group_send`` is one ``EVALSHA`` that pushes to each.
* :class:`RawPubSubLayer` — ``PUBLISH`` to send, one subscriber connection per process;
  a group message is decoded once and handed to every local member.

``pipelined=True`` sends through :class:`AutoPipeline`: commands issued while a round trip
is in flight share the next one. No validation, capacity, expiry or encryption: these are
ceilings, not layers.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import defaultdict
from typing import Any

import msgpack
import redis.asyncio as aredis

__all__ = ["AutoPipeline", "RawListLayer", "RawPubSubLayer"]

Message = dict[str, Any]

_GROUP_SEND = """
for _, inbox in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('RPUSH', inbox, ARGV[1])
end
return 0
"""


class AutoPipeline:
    """One writer task; every command issued while it waits on Redis joins its next batch."""

    def __init__(self, client: aredis.Redis) -> None:
        self._client = client
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def execute(self, *args: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((args, fut))
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._writer())
        return fut

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            pipe = self._client.pipeline(transaction=False)
            for args, _ in batch:
                pipe.execute_command(*args)
            try:
                results = await pipe.execute(raise_on_error=False)
            except Exception as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, Exception):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class _RawBase:
    def __init__(self, url: str, *, pipelined: bool) -> None:
        pool = aredis.BlockingConnectionPool.from_url(url, max_connections=64, timeout=30)
        self.client = aredis.Redis(connection_pool=pool)
        self.auto = AutoPipeline(self.client) if pipelined else None
        self.token = secrets.token_hex(6)
        self.queues: dict[str, asyncio.Queue[Message]] = defaultdict(asyncio.Queue)
        self.groups: dict[str, set[str]] = defaultdict(set)
        self.counter = 0
        self.reader: asyncio.Task[None] | None = None

    async def command(self, *args: Any) -> Any:
        if self.auto is not None:
            return await self.auto.execute(*args)
        return await self.client.execute_command(*args)

    def deliver_local(self, target: str, is_group: bool, message: Message) -> None:
        if is_group:
            for channel in self.groups.get(target, ()):
                self.queues[channel].put_nowait(message)
        else:
            self.queues[target].put_nowait(message)

    async def receive(self, channel: str) -> Message:
        return await self.queues[channel].get()

    async def aclose(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        if self.auto is not None:
            await self.auto.aclose()
        await self.client.aclose()
        await self.client.connection_pool.disconnect()


class RawListLayer(_RawBase):
    """List-based ceiling: one inbox list per process, one batched reader."""

    def __init__(self, url: str, *, pipelined: bool) -> None:
        super().__init__(url, pipelined=pipelined)
        self.inbox = f"rawq:inbox:{self.token}"
        self.script_sha = ""

    def _inbox_of(self, channel: str) -> str:
        return f"rawq:inbox:{channel.split('!', 1)[0].rsplit('.', 1)[-1]}"

    async def _ensure_started(self) -> None:
        if self.reader is None:
            self.script_sha = await self.client.script_load(_GROUP_SEND)
            self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        reader = aredis.Redis(connection_pool=self.client.connection_pool)
        while True:
            popped = await reader.execute_command("BLMPOP", 1, 1, self.inbox, "LEFT", "COUNT", 1000)
            if not popped:
                continue
            for raw in popped[1]:
                kind, target, message = msgpack.unpackb(raw)
                self.deliver_local(target, kind == 1, message)

    async def new_channel(self, prefix: str = "specific.") -> str:
        await self._ensure_started()
        self.counter += 1
        return f"{prefix}{self.token}!{self.counter}"

    async def send(self, channel: str, message: Message) -> None:
        data = msgpack.packb((0, channel, message))
        await self.command("RPUSH", self._inbox_of(channel), data)

    async def group_add(self, group: str, channel: str) -> None:
        await self._ensure_started()
        self.groups[group].add(channel)
        await self.command("SADD", f"rawq:group:{group}", self.inbox)

    async def group_discard(self, group: str, channel: str) -> None:
        members = self.groups.get(group)
        if members is None:
            return
        members.discard(channel)
        if not members:
            del self.groups[group]
            await self.command("SREM", f"rawq:group:{group}", self.inbox)

    async def group_send(self, group: str, message: Message) -> None:
        if not self.script_sha:
            self.script_sha = await self.client.script_load(_GROUP_SEND)
        data = msgpack.packb((1, group, message))
        await self.command("EVALSHA", self.script_sha, 1, f"rawq:group:{group}", data)


class RawPubSubLayer(_RawBase):
    """PUBLISH/SUBSCRIBE ceiling: one subscriber connection per process."""

    def __init__(self, url: str, *, pipelined: bool) -> None:
        super().__init__(url, pipelined=pipelined)
        self.subscriber: aredis.client.PubSub | None = None
        self._confirm: dict[bytes, asyncio.Future[None]] = {}

    async def _subscribe(self, name: str) -> None:
        if self.subscriber is None:
            self.subscriber = self.client.pubsub()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirm[name.encode()] = fut
        await self.subscriber.execute_command("SUBSCRIBE", name)
        if self.reader is None:
            self.reader = asyncio.create_task(self._read())
        await fut

    async def _read(self) -> None:
        subscriber = self.subscriber
        if subscriber is None:
            return
        while True:
            reply = await subscriber.parse_response(block=True)
            if not reply:
                continue
            kind, name = reply[0], reply[1]
            if kind == b"message":
                target = name.decode()
                is_group = target.startswith("rawps.g.")
                self.deliver_local(target[8:], is_group, msgpack.unpackb(reply[2]))
            elif kind == b"subscribe":
                fut = self._confirm.pop(name, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)

    async def new_channel(self, prefix: str = "specific.") -> str:
        self.counter += 1
        channel = f"{prefix}{self.token}!{self.counter}"
        await self._subscribe(f"rawps.c.{channel}")
        return channel

    async def send(self, channel: str, message: Message) -> None:
        await self.command("PUBLISH", f"rawps.c.{channel}", msgpack.packb(message))

    async def group_add(self, group: str, channel: str) -> None:
        members = self.groups[group]
        first = not members
        members.add(channel)
        if first:
            await self._subscribe(f"rawps.g.{group}")

    async def group_discard(self, group: str, channel: str) -> None:
        members = self.groups.get(group)
        if members is None:
            return
        members.discard(channel)
        if not members and self.subscriber is not None:
            del self.groups[group]
            await self.subscriber.execute_command("UNSUBSCRIBE", f"rawps.g.{group}")

    async def group_send(self, group: str, message: Message) -> None:
        await self.command("PUBLISH", f"rawps.g.{group}", msgpack.packb(message))

    async def aclose(self) -> None:
        await super().aclose()
        if self.subscriber is not None:
            await self.subscriber.aclose()
