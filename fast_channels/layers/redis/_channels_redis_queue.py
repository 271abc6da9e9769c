"""The queue layer in channels_redis 4.x's format:
``RedisChannelLayer(wire_format="channels_redis")``.

What is stored where is channels_redis's (:mod:`._channels_redis`), so Django Channels
processes and this layer send to each other's channels and groups. How it is done is
this package's: one round trip per send (a Lua script that drops expired members, checks
capacity and adds), two per group send (the members, then one script per Redis server
for all of them), pops on connections of their own that never lose a popped reply to a
stalled event loop (:mod:`._pop`), and commands of one loop pipelined (:mod:`._pipe`).

Receiving, per event loop: one reader per sorted set that receivers wait on — the set of
this layer's ``new_channel()`` channels (``<prefix><head>!``), or a named channel's set
on each Redis server. A reader pops only while receivers wait, so messages wait in Redis
otherwise and senders see the channel fill up (``ChannelFull``), as with channels_redis.
The channels of one process share one set and so one count: a receiver that does not
keep up fills it for its neighbours too. A message popped for a channel of this process
that no one is receiving on yet waits in its mailbox until ``expiry``.

Semantics otherwise as the layer's own (at most once; a named channel's message reaches
one receiver, in whichever process, Channels' or ours, pops it), with channels_redis's
orderings: FIFO per channel by send time (a sender here never gives two messages the
same score), messages older than ``expiry`` dropped when sent to or popped.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers._local import LocalCore, Payload
from fast_channels.layers.base import BaseChannelLayer, logger
from fast_channels.layers.redis._channels_redis import (
    CHANNEL_KEY,
    ChannelsRedisCodec,
    SlotShardedConnection,
    slot_shard,
)
from fast_channels.layers.redis._connection import REDIS_ERRORS, RawPool, connection_error
from fast_channels.layers.redis._layer import RedisLayerBase
from fast_channels.layers.redis._loop import LoopClients, stop
from fast_channels.layers.redis._named import NamedReader
from fast_channels.layers.redis._pipe import Arg, Script, pack
from fast_channels.layers.redis._pop import BlockingPop
from fast_channels.layers.redis.queue import RedisChannelLayer
from fast_channels.types import Message

__all__ = ["ChannelsRedisQueueLayer"]

SEND = Script.load("channels_redis_send")
GROUP_SEND = Script.load("channels_redis_group_send")
GROUP_ADD = Script.load("channels_redis_group_add")
GROUP_MEMBERS = Script.load("channels_redis_group_members")
SCRIPTS = (SEND, GROUP_SEND, GROUP_ADD, GROUP_MEMBERS)


def _head(channel: str) -> str:
    """The part of ``channel`` that names its sorted set: up to and with ``!``, or all."""
    bang = channel.find("!")
    return channel if bang < 0 else channel[: bang + 1]


class _SortedSetPop(BlockingPop):
    """:class:`BlockingPop` for a sorted set: the lowest scores first (``BZMPOP ... MIN``);
    the scores of what it popped last are in :attr:`scores`."""

    __slots__ = ("scores",)

    def __init__(self, *, pool: RawPool, key: str, block: float, timeout: float) -> None:
        super().__init__(pool=pool, key=key, block=block, timeout=timeout)
        self.scores: dict[bytes, float] = {}
        """Member -> score of the entries the last :meth:`pop` returned."""

    async def pop(self, count: int) -> list[bytes]:
        """Up to ``count`` members, lowest score first; [] if none came within the
        pop's ``block`` seconds."""
        command = ("BZMPOP", self._block, 1, self._key, "MIN", "COUNT", count)
        reply = await self._call([pack([command])])
        pairs = cast(list[list[bytes]], cast(list[object], reply)[1]) if reply else []
        self.scores = {member: float(score) for member, score in pairs}
        return [member for member, _ in pairs]

    async def push_back(self, entries: list[bytes]) -> None:
        """Put ``entries`` (from the last :meth:`pop`) back with their scores, so back in
        their places."""
        args: list[Arg] = []
        for member in entries:
            args += (repr(self.scores[member]), member)
        await self._call([pack([("ZADD", self._key, *args)])])


class _SetReader(NamedReader):
    """Pops one sorted set for the receivers waiting on it in one event loop.

    ``channel`` set: the set of that named channel, popped for at most as many messages
    as receivers wait without one (the rest are put back), as :class:`NamedReader` does
    for the layer's own format. ``channel`` None: the set of this layer's ``!`` channels,
    popped while any of them waits; each message goes to the channels named in it (past
    their mailbox's capacity: Redis counted it when it was sent).
    """

    def __init__(
        self,
        *,
        pool: RawPool,
        key: str,
        channel: str | None,
        local: LocalCore,
        codec: ChannelsRedisCodec,
        expiry: float,
        batch: int,
        block: float,
        timeout: float,
    ) -> None:
        super().__init__(
            pool=pool, key=key, channel=channel or key, local=local, block=block, timeout=timeout
        )
        self._sets = _SortedSetPop(pool=pool, key=key, block=block, timeout=timeout)
        self._popper = self._sets
        self._named = channel
        self._codec = codec
        self._expiry = expiry
        self._batch = batch

    def _wanted(self) -> int:
        if self._named is None:
            return min(self.waiting, self._batch)
        return super()._wanted()

    async def _deliver(self, entries: list[bytes]) -> None:
        oldest = time.time() - self._expiry
        scores = self._sets.scores
        room = self._wanted()
        surplus: list[bytes] = []
        local = self._local
        for member in entries:
            if scores[member] <= oldest:
                local.counters.expired += 1
                continue
            try:
                message = self._codec.loads(member)
            except ValueError as exc:  # InvalidMessageError, DecryptionError
                local.counters.undecodable += 1
                logger.error("dropped a message of %r: %s", self._key, exc)
                continue
            named = message.pop(CHANNEL_KEY, None)
            if self._named is not None:
                if room > 0 and local.put_nowait(self._named, message, hand=False):
                    room -= 1
                else:
                    surplus.append(member)
                continue
            targets: list[object] = (
                [named] if isinstance(named, str) else cast(list[object], named or [])
            )
            if not isinstance(targets, list) or not targets:
                local.counters.undecodable += 1
                logger.error("dropped a message of %r naming no channel", self._key)
                continue
            payload: Message = BaseChannelLayer.shared(message) if len(targets) > 1 else message
            for target in targets:
                if isinstance(target, str):
                    local.put_nowait(target, payload, admitted=True)
        if surplus:
            await self._return(surplus)

    async def _return(self, surplus: list[bytes]) -> None:
        try:
            await self._sets.push_back(surplus)
        except BaseException:
            logger.error(
                "lost %d message(s) of %r: could not return them to Redis",
                len(surplus),
                self._key,
            )
            raise


class _LoopPart(LoopClients):
    """One event loop's clients, pipes and readers of one layer."""

    def __init__(
        self,
        layer: ChannelsRedisQueueLayer,
        forget: Callable[[_LoopPart], None],
    ) -> None:
        super().__init__(
            layer.connection, SCRIPTS, self._shutdown, name="fast-channels channels_redis keeper"
        )
        self._layer = layer
        self._forget = forget
        self.readers: dict[tuple[str, int], _SetReader] = {}
        self.closed = False

    def reader(self, key: str, shard: int, channel: str | None) -> _SetReader:
        """The reader of sorted set ``key`` on ``shard`` (made on first use)."""
        reader = self.readers.get((key, shard))
        if reader is None:
            if len(self.readers) > 1000:
                self.readers = {k: r for k, r in self.readers.items() if r.waiting > 0}
            layer = self._layer
            reader = self.readers[key, shard] = _SetReader(
                pool=cast(RawPool, self.clients[shard].connection_pool),
                key=key,
                channel=channel,
                local=layer.local,
                codec=layer.codec,
                expiry=layer.expiry,
                batch=layer.receive_batch,
                block=max(0.01, min(1.0, layer.connection.socket_timeout / 2)),
                timeout=layer.connection.socket_timeout,
            )
        return reader

    def statistics(self) -> dict[str, int]:
        """Round trips, commands and Redis errors of this loop."""
        return {
            "round_trips": sum(p.round_trips for p in self.pipes),
            "commands": sum(p.commands for p in self.pipes),
            "redis_errors": sum(p.errors for p in self.pipes)
            + sum(r.errors for r in self.readers.values()),
        }

    async def _shutdown(self) -> None:
        self.closed = True
        self._forget(self)
        tasks = [r.task for r in self.readers.values() if r.task is not None]
        await asyncio.gather(*(stop(functools.partial(_cancelled, task)) for task in tasks))
        await self.close_clients()


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class ChannelsRedisQueueLayer(RedisChannelLayer):
    """:class:`RedisChannelLayer` speaking channels_redis 4.x's format (see the module);
    made by ``RedisChannelLayer(..., wire_format="channels_redis")``.

    Takes the options of :class:`RedisChannelLayer`, plus ``serializer_format``
    (``"msgpack"`` or ``"json"``) and ``random_prefix_length`` (12), which must match
    the Channels processes' settings, as must ``prefix``, ``hosts`` (same servers, same
    order), ``expiry``, ``capacity`` and ``symmetric_encryption_keys``.
    """

    wire_format = "channels_redis"
    _connection_class = SlotShardedConnection

    def _read_channels_redis_options(self, options: Mapping[str, object]) -> None:
        given = options
        self._read_on_reconnect(given)
        fmt = given.get("serializer_format", "msgpack")
        if fmt not in ("msgpack", "json"):
            raise ConfigurationError(
                f"serializer_format must be 'msgpack' (the default) or 'json', got {fmt!r}; "
                "custom serializers from channels_redis's registry have no counterpart"
            )
        self.codec: ChannelsRedisCodec = ChannelsRedisCodec(
            serializer_format="json" if fmt == "json" else "msgpack",
            keys=cast("Sequence[str | bytes] | None", given.get("symmetric_encryption_keys")),
            random_prefix_length=cast(int, given.get("random_prefix_length", 12)),
        )
        """How messages are stored (channels_redis's encoding)."""
        self.serializer = self.codec

    def _start_process(self) -> None:
        self._token = self._random_suffix()[:12]
        self._parts: dict[asyncio.AbstractEventLoop, _LoopPart] = {}
        self._set_ttl = max(1, math.ceil(self.expiry))
        self._group_ttl = max(1, math.ceil(self.group_expiry))
        self._last_score = 0.0

    def _forked(self) -> None:
        RedisLayerBase._forked(self)
        self._keep_parents(self._parts)
        self._start_process()

    def shard_of(self, channel: str) -> int:
        """The Redis host index that holds ``channel``'s messages (channels_redis's choice)."""
        return self.conn.shard_for(_head(channel))

    def _part(self) -> _LoopPart:
        loop = asyncio.get_running_loop()
        part = self._parts.get(loop)
        if part is None or part.closed:
            part = self._parts[loop] = _LoopPart(self, self._forget_part)
        return part

    def _forget_part(self, part: _LoopPart) -> None:
        if self._parts.get(part.loop) is part:
            del self._parts[part.loop]

    def _score(self) -> float:
        """Now, in seconds since the epoch, and later than any score given before here."""
        now = time.time()
        if now <= self._last_score:
            now = self._last_score + 1e-6
        self._last_score = now
        return now

    # -- sending ---------------------------------------------------------------------

    async def send(self, channel: str, message: Message) -> None:
        """As :meth:`RedisChannelLayer.send`; a message to a ``!`` channel names it
        inside (``"__asgi_channel__"``), as channels_redis reads it."""
        self._check_open()
        self.require_valid_channel_name(channel)
        if "!" in channel and isinstance(message, dict):
            data = self.encode({**message, CHANNEL_KEY: channel})
        else:
            data = self.encode(message)
        await self._send(channel, data)

    async def _send(self, channel: str, data: bytes) -> None:
        head = _head(channel)
        now = self._score()
        args = (repr(now), repr(now - self.expiry), self.capacity_for(channel), data, self._set_ttl)
        pipe = self._part().pipes[self.conn.shard_for(head)]
        if not await pipe.script(SEND, (self.prefix + head,), args):
            self.local.counters.rejected_full += 1
            raise self._full(channel)
        self.local.counters.sent += 1

    async def group_send(self, group: str, message: Message) -> None:
        """As :meth:`RedisChannelLayer.group_send`: one message per sorted set of the
        members (naming the members it is for), skipping full sets."""
        self._check_open()
        self.require_valid_group_name(group)
        self.encode(message)  # refused as the layer's own format would, members or not
        part = self._part()
        now = self._score()
        members = await part.pipes[self.conn.shard_for(group)].script(
            GROUP_MEMBERS, (self._group_key(group),), (repr(now - self.group_expiry),)
        )
        by_head: dict[str, list[str]] = {}
        for member in cast(list[bytes], members):
            channel = member.decode()
            by_head.setdefault(_head(channel), []).append(channel)
        batches: dict[int, tuple[list[Arg], list[Arg], list[list[str]]]] = {}
        for head, channels in by_head.items():
            data = self.encode({**message, CHANNEL_KEY: channels})
            shard = self.conn.shard_for(head)
            if shard not in batches:
                batches[shard] = ([], [], [])
            keys, args, held = batches[shard]
            keys.append(self.prefix + head)
            args += (self.capacity_for(channels[0]), data)
            held.append(channels)
        head_args = (repr(now), repr(now - self.expiry), self._set_ttl)
        calls = [
            part.pipes[shard].script(GROUP_SEND, keys, (*head_args, *args))
            for shard, (keys, args, _) in batches.items()
        ]
        replies = await asyncio.gather(*calls)
        skipped = 0
        for (_, _, held), full in zip(batches.values(), replies, strict=True):
            skipped += sum(len(held[int(i) - 1]) for i in cast(list[int], full))
        self.local.counters.group_sends += 1
        if skipped:
            self.local.counters.group_skipped_full += skipped
            logger.warning(
                "group_send to %r skipped %d member(s) whose channel is full", group, skipped
            )

    async def _group_send(self, group: str, data: bytes) -> None:
        raise NotImplementedError("group_send() encodes per member set; it never calls this")

    # -- receiving -------------------------------------------------------------------

    _ready_first = True  # its mailboxes hold messages for its own channels only

    def _receives_locally(self, channel: str, loop: asyncio.AbstractEventLoop) -> bool:
        return False  # every wait goes through _receive: it tells the readers

    async def _receive(self, channel: str) -> Payload:
        part = self._part()
        head = _head(channel)
        if "!" in channel:
            self._require_own_channel(channel, self._token)
            readers = [part.reader(self.prefix + head, self.conn.shard_for(head), None)]
        else:  # Channels spreads its sends to a named channel over every host
            key = self.prefix + channel
            readers = [part.reader(key, i, channel) for i in range(self.conn.shard_count)]
        for reader in readers:
            reader.enter()
        try:
            return await self.local.get(channel)
        finally:
            for reader in readers:
                reader.leave()

    def decode(self, channel: str, payload: Payload) -> Message | None:
        """As :meth:`BaseChannelLayer.decode` (the readers decode what they pop)."""
        return BaseChannelLayer.decode(self, channel, payload)

    async def _new_channel(self, prefix: str) -> str:
        head = f"{prefix}{self._token}!"
        shard = self.conn.shard_for(head)
        await self._part().pipes[shard].ready()
        while True:
            # channels_redis sends to such a channel on the host of its full name, and
            # reads the host of its head: pick a name that puts both on one host.
            channel = head + self._random_suffix()
            if slot_shard(channel, self.conn.shard_count) == shard:
                return channel

    # -- groups ----------------------------------------------------------------------

    def _group_key(self, group: str) -> str:
        return f"{self.prefix}:group:{group}"

    async def _group_add(self, group: str, channel: str) -> None:
        pipe = self._part().pipes[self.conn.shard_for(group)]
        args = (repr(self._score()), channel, self._group_ttl)
        await pipe.script(GROUP_ADD, (self._group_key(group),), args)

    async def _group_discard(self, group: str, channel: str) -> None:
        pipe = self._part().pipes[self.conn.shard_for(group)]
        await pipe.command("ZREM", self._group_key(group), channel)

    # -- the rest --------------------------------------------------------------------

    async def _flush(self) -> None:
        """Delete every key starting with ``prefix``, on every host, as channels_redis's
        ``flush()`` does (the keys of a layer of the layer's own format with the same
        prefix too)."""
        try:
            await self._part().delete_keys(f"{self.prefix}*")
        except REDIS_ERRORS as exc:
            raise connection_error(exc, f"flush {self.conn.describe()}") from exc
        self.local.flush()

    async def _close_pools(self) -> None:
        part = self._parts.get(asyncio.get_running_loop())
        if part is not None:
            await part.aclose()

    async def _aclose(self) -> None:
        self.local.close()
        parts, self._parts = list(self._parts.values()), {}
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for part in parts:
            if part.loop is running:
                await part.aclose()
            else:
                part.keeper.cancel_threadsafe()
        await self.conn.aclose()

    def _extra_statistics(self) -> dict[str, int]:
        stats = {"round_trips": 0, "commands": 0, "redis_errors": 0}
        for part in list(self._parts.values()):
            for key, value in part.statistics().items():
                stats[key] += value
        return stats

    def _gauge_statistics(self) -> dict[str, int]:
        return {}
