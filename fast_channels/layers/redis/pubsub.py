"""The Redis pub/sub channel layer: the lowest latency, and nothing kept for absentees.

Transport: ``send`` and ``group_send`` are one ``PUBLISH`` each, whatever the size of the
group, with no lock around it: concurrent sends share round trips through the shared
:class:`~fast_channels.layers.redis._pipe.CommandPipe`. Each process holds one subscriber
connection per Redis shard (:mod:`._subscriber`) whose reader task decodes a group message
once and puts it into the mailbox of every local member; receivers wait on the shared
local core.

Redis pub/sub channels used, under ``prefix``:

* ``<prefix>:g:<group>`` per group with a member in some process;
* ``<prefix>:c:<name>`` per named channel a process receives on, and per *inbox*: all
  channels made by ``new_channel()`` in one layer object share ``<prefix>:c:<their part
  before '!'>``, so making a channel costs no round trip after the first, and the part
  after ``!`` travels with the message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Unpack

from fast_channels.exceptions import MessageTooLargeError
from fast_channels.layers._local import Payload
from fast_channels.layers.overflow import OverflowPolicy
from fast_channels.layers.redis._connection import RedisConnection
from fast_channels.layers.redis._history import Delivery, PublishDelivery
from fast_channels.layers.redis._layer import RedisLayerBase, RedisLayerOptions
from fast_channels.layers.redis._loop import LoopClients
from fast_channels.layers.redis._pipe import CommandPipe
from fast_channels.layers.redis._subscriber import Subscriber, logger

__all__ = ["RedisPubSubChannelLayer"]

_Target = tuple[bool, str, int]
"""What a subscribed Redis channel is: (is a group, group name or channel head, shard)."""


class _LoopPart(LoopClients):
    """What the layer holds for one event loop: its clients, a command pipe per shard, the
    subscribers made there, and the keeper that closes them all when the loop ends."""

    __slots__ = ("subscribers",)

    def __init__(self, conn: RedisConnection, release: Callable[[_LoopPart], Awaitable[None]]):
        super().__init__(conn, (), lambda: release(self), name="fast-channels pub/sub loop keeper")
        for pipe in self.pipes:
            pipe.limits = True  # refuse what Redis could not hand to a subscriber
        self.subscribers: list[Subscriber] = []


class RedisPubSubChannelLayer(RedisLayerBase):
    """A channel layer over Redis PUBLISH/SUBSCRIBE: real-time, at most once, not stored.

    Delivery: a message reaches the processes subscribed to its channel or group *when it
    is published*. A message to a channel nobody receives on (yet) is gone; there is no
    persistence, and a message published while a subscriber reconnects is lost. Use
    :class:`~fast_channels.layers.redis.RedisChannelLayer` for messages that must wait for
    their receiver. A named channel received on in several processes reaches each of them
    (it is a broadcast, not a work queue).

    Subscribing is confirmed before ``new_channel()``, ``group_add()`` and the first
    ``receive()`` on a named channel return, so a message published after them arrives.
    ``group_discard()`` of the last local member unsubscribes the group.

    Ordering: FIFO per channel for messages from one sender that awaits each send.

    Capacity is local: each channel's mailbox in the receiving process holds
    ``capacity`` (or ``channel_capacity``) messages; ``send`` cannot see a remote
    receiver, so it never raises ``ChannelFull``. What a full mailbox does is the named
    ``overflow`` policy (default :attr:`OverflowPolicy.DROP_OLDEST`: freshest data wins);
    every dropped message is counted in ``statistics()`` and logged (at most once a
    second). ``expiry`` drops messages not received in time; ``group_expiry`` ends local
    memberships not renewed by ``group_add``.

    Cancellation: cancelling ``receive()`` loses no message. ``statistics().extra`` holds
    ``subscriptions``, ``reconnects`` and ``published_unheard`` (sends and group sends
    that no process was subscribed to, e.g. while receivers resubscribe after a Redis
    restart or failover: this is how a sender learns of them).

    Redis unreachable: ``send``/``group_send`` raise ``LayerConnectionError`` within
    ``socket_timeout`` (5 s by default) of the call, a subscription Redis cannot confirm
    within it too; refused credentials or database are ``BackendConfigurationError`` (see
    :mod:`fast_channels.exceptions`). Subscribers reconnect by themselves (backing off 0.05
    to 0.5 s) and subscribe again to every channel and group held here; then each local
    channel they served gets a ``layer.reconnected`` notice, since messages published
    meanwhile are lost (a restart, a failover, or Redis dropping a subscriber that fell
    behind past its pub/sub output buffer limit).

    Size: a message over 3/4 of the server's pub/sub output buffer hard limit (read at
    connect; 32 MB by default) raises ``MessageTooLargeError``: Redis would drop the
    subscriber it is handed to. Namespace: pub/sub channels are global to a Redis server,
    so a database number other than 0 is part of their names.

    Options, keyword-only (an unknown one is a ``TypeError``): those of
    :class:`~fast_channels.layers.redis.RedisLayerOptions`, which both Redis layers take
    (``max_connections`` counts the subscriber connection too), and ``overflow``.
    ``connection`` is the layer's Redis connection.
    """

    extensions: Sequence[str] = ("groups", "flush")

    def __init__(
        self,
        *,
        overflow: OverflowPolicy | str = OverflowPolicy.DROP_OLDEST,
        **options: Unpack[RedisLayerOptions],
    ) -> None:
        self.overflow: OverflowPolicy = OverflowPolicy.parse(overflow)
        super().__init__(**options)
        self._keys: dict[str, bytes] = {}
        self._databases = [self.connection.database(i) for i in range(self.connection.shard_count)]
        self._unheard = 0
        self._next_warning = 0.0
        self._start_process()
        self._track_forks()

    def _start_process(self) -> None:
        """What belongs to this process: the inbox name, subscriptions, loops."""
        self._inbox = self._random_suffix()[:12]
        self._targets: dict[bytes, _Target] = {}
        self._home: asyncio.AbstractEventLoop | None = None
        # Bumped whenever the subscriptions move to another loop (or are dropped): a
        # channel recorded in _receivable under the current epoch needs no check.
        self._epoch = 0
        self._receivable: dict[str, int] = {}
        self._subscribers: list[Subscriber] = []
        # What the subscribers of a finished home loop wanted, per shard, for the next one.
        self._carried: list[set[bytes]] = []
        self._loops: dict[asyncio.AbstractEventLoop, _LoopPart] = {}
        self._pipes: dict[asyncio.AbstractEventLoop, list[CommandPipe]] = {}

    def _forked(self) -> None:
        super()._forked()
        self._keep_parents(self._loops, self._subscribers)
        self._start_process()

    # -- names --------------------------------------------------------------------------

    def _key(self, kind: str, name: str) -> bytes:
        cache_key = kind + name
        key = self._keys.get(cache_key)
        if key is None:
            if len(self._keys) > 10_000:
                self._keys.clear()
            # Pub/sub channels are global to a Redis server, not per database: the
            # database number (when not 0) keeps layers on different ones apart.
            db = self._databases[self.connection.shard_for(name)]
            space = f"{self.prefix}:{db}" if db else self.prefix
            key = self._keys[cache_key] = f"{space}:{kind}:{name}".encode()
        return key

    # -- transport ----------------------------------------------------------------------

    async def _publish(self, shard: int, key: bytes, data: bytes) -> int:
        pipes = self._pipes.get(asyncio.get_running_loop())
        if pipes is None:
            pipes = self._enter().pipes
        pipe = pipes[shard]
        if len(data) > pipe.publish_max:
            await self._check_fits(pipe, shard, data)
        count = await pipe.command(b"PUBLISH", key, data)
        return count if isinstance(count, int) else 0

    async def _check_fits(self, pipe: CommandPipe, shard: int, data: bytes) -> None:
        """Refuse a message Redis would lose: over 3/4 of the server's pub/sub output
        buffer hard limit, a subscriber is disconnected as it is handed over."""
        await pipe.ready()  # reads the server's limit
        if len(data) > pipe.publish_max:
            raise MessageTooLargeError(
                f"a {len(data)}-byte message cannot be published to Redis at "
                f"{self.connection.describe(shard)}: it disconnects a pub/sub subscriber whose "
                f"output buffer reaches {pipe.pubsub_limit} bytes (client-output-buffer-limit "
                f"pubsub), losing what it held, so this layer refuses messages over "
                f"{pipe.publish_max} bytes there. Send a reference to the data instead, or "
                "raise that limit on the server; nothing was sent"
            )

    async def _send(self, channel: str, data: bytes) -> None:
        head, bang, local = channel.partition("!")
        frame = b"".join((b"!", local.encode(), b"\0", data)) if bang else b"\0" + data
        shard = self.connection.shard_for(channel)
        if not await self._publish(shard, self._key("c", head), frame):
            self._unheard += 1
        self.local.counters.sent += 1

    async def _group_send(self, group: str, data: bytes) -> None:
        shard = self.connection.shard_for(group)
        if not await self._publish(shard, self._key("g", group), data):
            self._unheard += 1
        self.local.counters.group_sends += 1

    # -- history and presence (opt-in; see fast_channels.layers.history / .presence) ----

    def _loop_pipes(self) -> list[CommandPipe]:
        pipes = self._pipes.get(asyncio.get_running_loop())
        return pipes if pipes is not None else self._enter().pipes

    def _group_delivery(self) -> Delivery:
        return PublishDelivery(lambda group: self._key("g", group))

    async def _receive(self, channel: str) -> Payload:
        self._require_own_channel(channel, self._inbox)
        key, target = self._channel_target(channel)
        known = self._targets.get(key)
        if (
            known is None
            or self._home is not asyncio.get_running_loop()
            or not self._subscribers[known[2]].holds(key)
        ):
            await self._subscribe(key, target)
        if len(self._receivable) >= 10_000:
            self._receivable.clear()
        self._receivable[channel] = self._epoch
        return await self.local.get(channel)

    _ready_first = True  # its mailboxes hold messages for its own channels only

    def _receives_locally(self, channel: str, loop: asyncio.AbstractEventLoop) -> bool:
        # Once _receive has seen the subscription confirmed on the home loop, later
        # receives there only wait on the mailbox (the subscriber resubscribes by itself
        # after a reconnect; channel subscriptions are never dropped while the layer lives).
        return self._receivable.get(channel) == self._epoch and self._home is loop

    async def _new_channel(self, prefix: str) -> str:
        head = f"{prefix}{self._inbox}"
        await self._subscribe(*self._channel_target(head))
        return f"{head}!{self._random_suffix()}"

    def _channel_target(self, channel: str) -> tuple[bytes, _Target]:
        """The pub/sub channel carrying ``channel``'s messages, and what it is to
        :meth:`_dispatch` (the channels of one inbox share one)."""
        head = channel.partition("!")[0]
        return self._key("c", head), (False, head, self.connection.shard_for(head))

    def _group_target(self, group: str) -> tuple[bytes, _Target]:
        """The pub/sub channel carrying ``group``'s messages, and what it is."""
        return self._key("g", group), (True, group, self.connection.shard_for(group))

    async def _group_add(self, group: str, channel: str) -> None:
        self.local.group_add(group, channel)
        key, target = self._group_target(group)
        try:
            await self._subscribe(key, target)
        except BaseException:
            if self.local.group_discard(group, channel):
                self._unsubscribe(key)
            raise

    async def _group_discard(self, group: str, channel: str) -> None:
        if self.local.group_discard(group, channel):
            self._unsubscribe(self._key("g", group))

    async def _flush(self) -> None:
        # Messages already on their way to this process are flushed too.
        if self._home is asyncio.get_running_loop():
            await asyncio.gather(*(sub.sync() for sub in self._subscribers))
        self.local.flush()
        for key, (is_group, _, _) in list(self._targets.items()):
            if is_group:
                self._unsubscribe(key)

    async def _close_pools(self) -> None:
        part = self._loops.get(asyncio.get_running_loop())
        if part is not None:
            await part.aclose()

    async def _aclose(self) -> None:
        # The core first: waiting receivers get LayerClosedError at once, and it keeps
        # nothing a subscriber still delivers. Then this loop's and the home loop's parts,
        # each on its loop; other loops' when they next run.
        self.local.close()
        home = self._home
        parts, self._loops, self._pipes = self._loops, {}, {}
        loop = asyncio.get_running_loop()
        try:
            for other, part in parts.items():
                if other is loop:
                    await part.keeper.aclose()
                elif other is home and other.is_running() and not other.is_closed():
                    coro = part.keeper.aclose()
                    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, other))
                else:
                    part.keeper.cancel_threadsafe()
        finally:
            self._leave_home()
            self._carried = []
            self._targets.clear()
        await self.connection.aclose()

    # -- per-loop resources, and their end -----------------------------------------------

    def _enter(self) -> _LoopPart:
        """The running loop's part, made (with its keeper) on first use."""
        loop = asyncio.get_running_loop()
        part = self._loops.get(loop)
        if part is not None and not part.keeper.closed:
            return part
        for other in [other for other in self._loops if other.is_closed()]:
            # Closed without cancelling its tasks, so its keeper never ran: let go of it.
            del self._loops[other], self._pipes[other]
            self.connection.forget_loop(other)
            if self._home is other:
                self._leave_home()
        part = self._loops[loop] = _LoopPart(self.connection, self._release)
        self._pipes[loop] = part.pipes
        return part

    async def _release(self, part: _LoopPart) -> None:
        """The keeper's cleanup: close and forget everything of its loop (run on it)."""
        loop = part.keeper.loop
        if self._loops.get(loop) is part:
            del self._loops[loop], self._pipes[loop]
        if self._home is loop and self._subscribers is part.subscribers:
            self._leave_home()
        try:
            for sub in part.subscribers:
                await sub.aclose()
        finally:
            await part.close_clients()

    def _leave_home(self) -> None:
        """Drop the home loop; what its subscribers wanted waits for the next one."""
        if self._subscribers:
            self._carried = [sub.retire() for sub in self._subscribers]
        self._subscribers = []
        self._home = None
        self._epoch += 1
        self._receivable.clear()

    # -- subscriptions (held by the subscribers of one "home" event loop) ----------------

    def _local_subscribers(self) -> list[Subscriber] | None:
        """This loop's subscribers; None while another running loop holds them."""
        loop = asyncio.get_running_loop()
        home = self._home
        if home is loop:
            return self._subscribers
        if home is not None and home.is_running() and not home.is_closed():
            return None
        # The loop that held the subscriptions is gone (or idle): take them over here.
        # The old subscribers stay with their loop's part, whose keeper closes them.
        self._leave_home()
        old, self._carried = self._carried, []
        part = self._enter()
        self._home = loop
        self._subscribers = part.subscribers = [
            Subscriber(
                client,
                self._dispatch,
                timeout=self.connection.socket_timeout,
                on_resync=self._resubscribed,
                outages=self.connection.outages,
                wanted=old[i] if i < len(old) else (),
                where=self.connection.describe(i),
            )
            for i, client in enumerate(part.clients)
        ]
        return self._subscribers

    def _resubscribed(self, keys: frozenset[bytes], reason: str) -> None:
        """A subscriber holds ``keys`` again after losing its connection: tell every local
        channel they served (all of them with one Redis server) to resync."""
        channels: list[str] | None = None
        if self.connection.shard_count > 1:
            channels = []
            heads: set[str] = set()
            for key in keys:
                target = self._targets.get(key)
                if target is None:
                    continue
                if target[0]:
                    channels.extend(self.local.group_channels(target[1]))
                else:
                    heads.add(target[1])
            channels.extend(
                channel
                for channel in self._receivable
                if channel.partition("!")[0] in heads or channel in heads
            )
        self._announce_resync(reason, channels=channels)

    async def _subscribe(self, key: bytes, target: _Target) -> None:
        self._check_open()
        self._targets[key] = target
        subscribers = self._local_subscribers()
        if subscribers is not None:
            await subscribers[target[2]].subscribe(key)
        elif self._home is not None:
            coro = self._subscribe(key, target)
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._home))

    def _unsubscribe(self, key: bytes) -> None:
        target = self._targets.pop(key, None)
        home = self._home
        if target is None or home is None or not self._subscribers:
            if target is not None and target[2] < len(self._carried):
                self._carried[target[2]].discard(key)
            return
        sub = self._subscribers[target[2]]
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is home or home.is_closed() or not home.is_running():
            if running is home:
                sub.unsubscribe(key)
            else:
                sub.wanted.discard(key)
        else:
            home.call_soon_threadsafe(sub.unsubscribe, key)

    # -- delivery (the reader task calls this for every message) -------------------------

    def _dispatch(self, key: bytes, data: bytes) -> None:
        target = self._targets.get(key)
        if target is None:
            return
        is_group, name, _ = target
        counters = self.local.counters
        dropped = counters.dropped_overflow
        channel = name
        if is_group:
            message = self.decode(name, data)
            if message is None:
                return
            delivered, skipped = self.local.fan_out(name, self.shared(message))
            if not delivered and not skipped:
                self._unsubscribe(key)  # every local membership expired
            elif skipped:
                self._warn("group %r: skipped %d member(s) whose channel is full", name, skipped)
        else:
            cut = data.find(b"\0")
            try:
                if cut < 0:
                    raise ValueError("no NUL after the channel part")
                channel = name + data[:cut].decode() if cut else name
            except ValueError as exc:  # UnicodeDecodeError too: not sent by this layer
                counters.undecodable += 1
                logger.error("pub/sub: dropped an unframed message on %r (%s)", key, exc)
                return
            if not self.local.put_nowait(channel, data[cut + 1 :]):
                counters.dropped_overflow += 1
        if counters.dropped_overflow != dropped:
            self._warn(
                "pub/sub: a full mailbox (%s) dropped a message for %r; "
                "its receiver is not keeping up (raise capacity= or consume faster)",
                self.overflow.value,
                channel,
            )

    def _warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now >= self._next_warning:
            self._next_warning = now + 1.0
            logger.warning(message, *args)

    def _extra_statistics(self) -> dict[str, int]:
        carried = sum(len(wanted) for wanted in self._carried)
        extra = {"subscriptions": carried, "reconnects": 0, "published_unheard": self._unheard}
        for sub in self._subscribers:
            for name, value in sub.statistics().items():
                extra[name] += value
        return extra
