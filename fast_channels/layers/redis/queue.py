"""The Redis queue layer: persistent, per-channel-capacity messaging between processes.

Semantics (on top of :mod:`fast_channels.layers.base`): at most once, FIFO per channel;
a message waits in Redis until a receiver takes it or ``expiry`` passes, so a message sent
before anyone receives is delivered when a receiver comes. Named channels (``"thumbnails"``)
are shared by every process: each message reaches exactly one receiver. Channels made by
``new_channel()`` are received in the process (and layer object) that made them.

How it is fast (Python CPU per message is the cost, never Redis):

* ``send`` is one Lua script call (``EVALSHA``) that checks capacity and pushes; the
  message is serialized once. ``group_send`` is one call per Redis server, pushing one
  entry per *receiving process* (:mod:`._inbox`), not per member. Commands issued
  together by one event loop share a round trip (:mod:`._pipe`).
* ``new_channel()`` channels share one inbox per layer object, drained by one reader task
  per event loop in batches (:mod:`._inbox`); receivers count what they take, reported
  in batches (:mod:`._acks`). Named channels are popped only for the receivers actually
  waiting (:mod:`._named`).

Keys, all under ``<prefix>:`` (``flush()`` deletes exactly these): ``q:<channel>`` named
channel list; ``in:<token>`` a process inbox; ``n:<token>`` its per-channel counts;
``g:<group>`` group members (sorted set, score = time added, for ``group_expiry``);
``gm:<group>`` the same members by receiving process (hash ``"<token>,<bucket>"`` ->
``",a,b"``, 16 buckets, token empty for named channels), so ``group_send`` reads a few
strings per process and ``group_add`` copies a short one;
``gc:<group>`` members' capacities when ``channel_capacity`` gives them another one than
``capacity``; ``live:<token>`` a process's marker (:mod:`._recovery`). With several
hosts, a named channel lives on the host its name hashes to, a process inbox on the host
its token hashes to, and a membership next to its channel, so ``group_send`` runs its
script once on every host.

Every process must configure the layer alike (prefix, capacities, expiry, keys).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from typing import Unpack, cast

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers._local import Payload
from fast_channels.layers.base import logger
from fast_channels.layers.redis._acks import Reporter
from fast_channels.layers.redis._connection import (
    REDIS_ERRORS,
    RawPool,
    RedisConnection,
    connection_error,
)
from fast_channels.layers.redis._history import Delivery, FanOutDelivery
from fast_channels.layers.redis._inbox import InboxReader, now_ms
from fast_channels.layers.redis._layer import RedisLayerBase, RedisLayerOptions
from fast_channels.layers.redis._loop import LoopState
from fast_channels.layers.redis._pipe import Arg, CommandPipe, Script
from fast_channels.layers.redis._recovery import MARK, Marks
from fast_channels.types import Message

__all__ = ["RedisChannelLayer"]

TOKEN_LENGTH = 12

SEND = Script.load("queue_send")
SEND_NAMED = Script.load("queue_send_named")
GROUP_SEND = Script.load("queue_group_send")
GROUP_SEND_DATA = 6  # the ARGV index of the message in GROUP_SEND (for history)
GROUP_ADD = Script.load("queue_group_add")
GROUP_DISCARD = Script.load("queue_group_discard")
ACK = Script.load("queue_ack")
SCRIPTS = (SEND, SEND_NAMED, GROUP_SEND, GROUP_ADD, GROUP_DISCARD, ACK, MARK)
OWN_CHANNELS_KEPT = 65_536  # channels a layer remembers as its own (then checks again)
LOST_DATA = (
    "Redis lost this layer's data (restarted without persistence, flushed, or failed over "
    "to a replica that was behind): messages waiting there are gone"
)


def _member_field(channel: str) -> str:
    """Where a group's membership hash keeps ``channel``: ``"<token>,<bucket>"`` (token
    empty for a named channel; 16 buckets keep each joined string short)."""
    bang = channel.find("!")
    token = "" if bang < 0 else channel[max(0, bang - TOKEN_LENGTH) : bang]
    return f"{token},{ord(channel[-1]) % 16}"


class RedisChannelLayer(RedisLayerBase):
    """A channel layer on Redis lists: messages persist until received or expired.

    ``send`` to a channel holding ``capacity`` messages (per channel, counted in Redis, so
    every sender sees it) raises ``ChannelFull``; ``group_send`` skips full members,
    counts them in ``statistics().group_skipped_full`` and logs a warning. Redis
    unreachable: the call raises ``LayerConnectionError`` within ``socket_timeout``;
    waiting receivers keep waiting and their reader retries with backoff. A loop stall
    never loses a message a reader popped (:mod:`._pop`). Redis losing the layer's data
    (restart without persistence, flush, failover to a lagging replica) is found within
    about a second: this process adds back the memberships it made, logs, counts
    (``statistics().extra["redis_data_lost"]``) and puts a ``layer.reconnected`` notice
    on its channels whose messages Redis held (:mod:`._recovery`).

    Options, keyword-only (an unknown one is a ``TypeError``): those of
    :class:`~fast_channels.layers.redis.RedisLayerOptions`, which both Redis layers take,
    and ``receive_batch`` (512): how many messages a reader pops per round trip.
    ``connection`` (also named ``conn``) is the layer's Redis connection.
    """

    min_connections = 3
    _min_connections_why = (
        "its inbox reader and its command pipe keep one each, and a named channel being "
        "received on holds one more while it waits"
    )

    def __init__(self, *, receive_batch: int = 512, **options: Unpack[RedisLayerOptions]) -> None:
        super().__init__(**options)
        if isinstance(receive_batch, bool) or not isinstance(receive_batch, int):
            raise ConfigurationError(f"receive_batch must be a positive int, got {receive_batch!r}")
        if receive_batch < 1:
            raise ConfigurationError(f"receive_batch must be a positive int, got {receive_batch!r}")
        # The older name of ``connection``; a plain attribute, as the send path reads it.
        self.conn: RedisConnection = self.connection
        self.receive_batch: int = int(receive_batch)
        self._keys = f"{self.prefix}:"
        ttl = max(1, math.ceil(self.expiry))
        self._refresh_every = max(1, math.ceil(ttl / 4))
        self._ttl = ttl + self._refresh_every  # keys outlast their messages (queue_send.lua)
        self._refresh_due: dict[str, float] = {}  # token -> when its TTLs need setting again
        self._group_ttl = max(1, math.ceil(self.group_expiry))
        self._min_capacity = min([self.capacity, *(cap for _, cap in self._capacity_patterns)])
        self._block = max(0.01, min(1.0, self.conn.socket_timeout / 2))
        self._check_every = self._block  # how often the markers are renewed (_recovery)
        self._reconcile_every = max(1.0, self.expiry / 2)
        self._expiry_ms = int(self.expiry * 1000)
        self._inbox_keys: dict[str, tuple[tuple[str, str], int]] = {}  # token -> keys, shard
        self._start_process()
        self._track_forks()

    def _start_process(self) -> None:
        """What belongs to this process: the inbox token, the counts owed, the readers."""
        self._token = secrets.token_hex(TOKEN_LENGTH // 2)
        self._token_shard = self.conn.shard_for(self._token)
        self._own: set[str] = set()  # channels of this layer checked by receive()
        self._marks = Marks(f"{self._keys}live:{self._token}")
        self._watcher: LoopState | None = None  # the loop state whose task runs _watch
        self._data_lost = 0
        self._reasserted = 0
        self._reporter = Reporter(
            local=self.local,
            capacity_for=self.capacity_for,
            submit=self._submit_acks,
            reconcile_every=self._reconcile_every,
        )
        self._states: dict[asyncio.AbstractEventLoop, LoopState] = {}
        self._last: LoopState | None = None
        self._reading: asyncio.AbstractEventLoop | None = None  # loop whose reader runs

    # -- where things live ---------------------------------------------------------------

    @property
    def token(self) -> str:
        """The token naming this layer object's inbox in this process."""
        return self._token

    def _forked(self) -> None:
        super()._forked()
        self._keep_parents(self._states)
        self._start_process()  # after the core's renewal: the reporter counts into it

    def shard_of(self, channel: str) -> int:
        """The Redis host index that holds ``channel``'s messages and memberships."""
        bang = channel.find("!")
        if bang < 0:
            return self.conn.shard_for(channel)
        return self.conn.shard_for(channel[max(0, bang - TOKEN_LENGTH) : bang])

    def _state(self) -> LoopState:
        loop = asyncio.get_running_loop()
        state = self._last
        if state is not None and state.loop is loop and not state.closed:
            return state
        state = self._states.get(loop)
        if state is None or state.closed:
            state = LoopState(
                conn=self.conn,
                scripts=SCRIPTS,
                local=self.local,
                block=self._block,
                timeout=self.conn.socket_timeout,
                inbox_reader=self._inbox_reader,
                forget=self._forget,
            )
            self._states[loop] = state
        self._last = state
        if self._marks.shards:
            self._ensure_watcher(state)
        return state

    def _forget(self, state: LoopState) -> None:
        if self._states.get(state.loop) is state:
            del self._states[state.loop]
        if self._last is state:
            self._last = None
        if self._watcher is state:
            self._watcher = None

    # -- what Redis lost (_recovery) -------------------------------------------------

    def _watch_shard(self, state: LoopState, shard: int) -> None:
        """This process is about to keep data on ``shard``: mark it first (if not yet)."""
        if not self._marks.watching(shard):
            self._marks.start(shard, state.pipes[shard])
            self._ensure_watcher(state)

    def _ensure_watcher(self, state: LoopState) -> None:
        watcher = self._watcher
        if watcher is None or watcher.closed or not watcher.watching:
            state.watch(self._watch(state))
            self._watcher = state

    async def _watch(self, state: LoopState) -> None:
        """The layer's one watcher task: renews its markers about once a second and
        restores what a Redis server lost; a restore that fails is tried again."""
        while True:
            await asyncio.sleep(self._check_every)
            for shard, value in await self._marks.check(state.pipes):
                try:
                    await self._recover(state, shard)
                except Exception as exc:  # e.g. Redis gone again: the next check retries
                    logger.warning(
                        "%s: could not restore this process's memberships on Redis at %s "
                        "(%s: %s); trying again",
                        type(self).__name__,
                        self.conn.describe(),
                        type(exc).__name__,
                        exc,
                    )
                else:
                    self._marks.confirm(shard, value)

    async def _recover(self, state: LoopState, shard: int) -> None:
        """Redis host ``shard`` lost this process's data: add its memberships there again
        (each with the time it was added, so it ends when it would have), count its
        mailboxes' messages again, and tell the channels received here whose messages
        were kept there (``layer.reconnected``, ``lost`` unknown)."""
        local, pipe = self.local, state.pipes[shard]
        memberships = [m for m in local.memberships() if self.shard_of(m[1]) == shard]
        now, expiry = now_ms(), self.group_expiry
        await asyncio.gather(
            *(
                pipe.script(
                    GROUP_ADD,
                    self._group_keys(group),
                    self._membership(channel, now - int((expiry - left) * 1000)),
                )
                for group, channel, left in memberships
            )
        )
        self._data_lost += 1
        self._reasserted += len(memberships)
        if shard == self._token_shard:
            self._reporter.acks.redis_lost()
            self._reporter.schedule(True)
        # Channels received here: those with a mailbox (own or named ones), and own
        # members of a group (another process's channel added here is its business).
        token = self._token
        told = {c for c in local.channels() if self.shard_of(c) == shard}
        told.update(c for _, c, _ in memberships if "!" in c and c.split("!")[0].endswith(token))
        logger.warning(
            "%s: Redis at %s lost this layer's data; re-asserted %d group membership(s) "
            "of this process",
            type(self).__name__,
            self.conn.describe(),
            len(memberships),
        )
        self._announce_resync(LOST_DATA, lost=None, channels=told)

    # -- acknowledgements ------------------------------------------------------------

    def _submit_acks(self, flat: list[str | int]) -> asyncio.Future[object] | None:
        state = self._states.get(asyncio.get_running_loop())
        if state is None or state.closed or self._closed:
            return None
        pipe = state.pipes[self.conn.shard_for(self._token)]
        return pipe.submit_script(ACK, (f"{self._keys}n:{self._token}",), (self._ttl, *flat))

    # -- transport -------------------------------------------------------------------

    async def _send(self, channel: str, data: bytes) -> None:
        state = self._last
        if state is None or state.loop is not asyncio.get_running_loop() or state.closed:
            state = self._state()
        bang, token, refresh, started = channel.find("!"), "", False, 0.0
        if bang < 0:
            key, now = f"{self._keys}q:{channel}", now_ms()
            entry = b"%013d%s" % (now + self._expiry_ms, data)
            args = (self.capacity_for(channel), entry, self._ttl, now)
            queued = state.pipes[self.conn.shard_for(channel)].script(SEND_NAMED, (key,), args)
        else:
            if channel in self._reporter.acks.pending:  # received here: tell Redis first
                self._reporter.flush()
            token = channel[max(0, bang - TOKEN_LENGTH) : bang]
            found = self._inbox_keys.get(token)
            if found is None:
                if len(self._inbox_keys) > 4096:
                    self._inbox_keys.clear()
                keys = (f"{self._keys}in:{token}", f"{self._keys}n:{token}")
                found = self._inbox_keys[token] = (keys, self.conn.shard_for(token))
            started = time.monotonic()
            refresh = started >= self._refresh_due.get(token, 0.0)
            entry = b"%013d%s\0%s" % (now_ms() + self._expiry_ms, channel.encode(), data)
            argv = (channel, self.capacity_for(channel), entry, self._ttl, int(refresh))
            queued = state.pipes[found[1]].script(SEND, found[0], argv)
        reply = cast(int, await queued)
        if reply > 1:  # a named channel's expired entries the script dropped (their count x 2)
            self.local.counters.expired += reply >> 1
        if not reply & 1:
            self.local.counters.rejected_full += 1
            raise self._full(channel)
        self.local.counters.sent += 1
        if refresh:
            if len(self._refresh_due) > 4096:
                self._refresh_due.clear()
            self._refresh_due[token] = started + self._refresh_every

    _ready_first = True  # its mailboxes hold messages for its own channels only

    def _receives_locally(self, channel: str, loop: asyncio.AbstractEventLoop) -> bool:
        return self._reading is loop and channel in self._own  # "!" channels only

    async def _receive(self, channel: str) -> Payload:
        loop = asyncio.get_running_loop()
        if "!" not in channel:
            return await self._receive_named(channel)
        if channel not in self._own:
            self._require_own_channel(channel, self._token)
            if len(self._own) >= OWN_CHANNELS_KEPT:
                self._own.clear()
            self._own.add(channel)
        if self._reading is not loop:
            self._start_reading(loop)
        return await self.local.get(channel)

    def decode(self, channel: str, payload: Payload) -> Message | None:
        """As :meth:`BaseChannelLayer.decode`; besides, ``receive()`` decodes every direct
        message of a process-local channel exactly once as it hands it out (group
        messages arrive decoded), so this is where it is counted (:mod:`._acks`)."""
        if type(payload) is bytes and "!" in channel:
            self._reporter.handed_out(channel, self.capacity_for, self._min_capacity)
        return super().decode(channel, payload)

    def _decode_group(self, channel: str, payload: bytes) -> Message | None:
        message = super().decode(channel, payload)
        return None if message is None else self.shared(message)

    def _start_reading(self, loop: asyncio.AbstractEventLoop) -> None:
        token, stopped = self._token, lambda: self._stopped_reading(loop)
        self._state().ensure_inbox_reader(
            f"{self._keys}in:{token}", self.conn.shard_for(token), stopped
        )
        self._reading = loop

    def _inbox_reader(self, pool: RawPool, key: str) -> InboxReader:
        return InboxReader(
            pool=pool,
            key=key,
            local=self.local,
            acks=self._reporter.acks,
            report=self._reporter.schedule,
            decode=self._decode_group,
            batch=self.receive_batch,
            block=self._block,
            timeout=self.conn.socket_timeout,
            least=self._min_capacity,
            reconcile_every=self._reconcile_every,
        )

    def _stopped_reading(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._reading is loop:
            self._reading = None

    async def _receive_named(self, channel: str) -> Payload:
        state = self._state()
        self._watch_shard(state, self.conn.shard_for(channel))
        reader = state.named_reader(channel, f"{self._keys}q:{channel}")
        reader.enter()
        try:
            return await self.local.get(channel)
        finally:
            reader.leave()

    async def _new_channel(self, prefix: str) -> str:
        # Connected (at once if already): Redis refusing the layer fails here, not later.
        await self._state().pipes[self.conn.shard_for(self._token)].ready()
        if not self._marks.watching(self._token_shard):  # before anyone can send to it
            self._watch_shard(self._state(), self._token_shard)
        channel = f"{prefix}{self._token}!{self._random_suffix()}"
        if len(self._own) < OWN_CHANNELS_KEPT:
            self._own.add(channel)
        return channel

    def _group_keys(self, group: str) -> tuple[str, str, str]:
        keys = self._keys
        return f"{keys}g:{group}", f"{keys}gc:{group}", f"{keys}gm:{group}"

    def _membership(self, channel: str, added_ms: int) -> tuple[str | int, ...]:
        """The arguments of queue_group_add.lua for ``channel``, added at ``added_ms``."""
        capacity = self.capacity_for(channel)
        override = "" if capacity == self.capacity else capacity
        return (added_ms, channel, self._group_ttl, override, _member_field(channel))

    async def _group_add(self, group: str, channel: str) -> None:
        # Kept here too: this process adds it to Redis again if Redis loses it (_recover).
        self.local.group_add(group, channel)
        state, shard = self._state(), self.shard_of(channel)
        self._watch_shard(state, shard)
        try:
            await state.pipes[shard].script(
                GROUP_ADD, self._group_keys(group), self._membership(channel, now_ms())
            )
        except BaseException:
            self.local.group_discard(group, channel)  # as the caller is told: not joined
            raise

    async def _group_discard(self, group: str, channel: str) -> None:
        self.local.group_discard(group, channel)
        pipe = self._state().pipes[self.shard_of(channel)]
        args = (channel, _member_field(channel))
        await pipe.script(GROUP_DISCARD, self._group_keys(group), args)

    def _group_send_args(self, group: str, data: bytes) -> tuple[tuple[str, ...], tuple[Arg, ...]]:
        """KEYS and ARGV of GROUP_SEND for ``data`` (ARGV[GROUP_SEND_DATA] is ``data``)."""
        now = now_ms()
        args = (
            now - int(self.group_expiry * 1000),
            self.capacity,
            self._keys,
            now,
            b"%013d" % (now + int(self.expiry * 1000)),
            data,
            self._ttl,
            TOKEN_LENGTH,
        )
        return self._group_keys(group), args

    async def _group_send(self, group: str, data: bytes) -> None:
        state = self._state()
        self.local.counters.group_sends += 1
        keys, args = self._group_send_args(group, data)
        if len(state.pipes) == 1:
            replies = [await state.pipes[0].script(GROUP_SEND, keys, args)]
        else:
            replies = await asyncio.gather(*(p.script(GROUP_SEND, keys, args) for p in state.pipes))
        skipped = sum(cast(list[int], reply)[1] for reply in replies)
        if skipped:
            self.local.counters.group_skipped_full += skipped
            logger.warning(
                "group_send to %r skipped %d member(s) whose channel is full", group, skipped
            )

    # -- history and presence (opt-in; see fast_channels.layers.history / .presence) ----

    def _loop_pipes(self) -> list[CommandPipe]:
        return self._state().pipes

    def _group_delivery(self) -> Delivery:
        return FanOutDelivery(GROUP_SEND, GROUP_SEND_DATA, self._group_send_args)

    async def _flush(self) -> None:
        try:
            await self._state().delete_keys(f"{self._keys}*")
        except REDIS_ERRORS as exc:
            raise connection_error(exc, f"flush {self.conn.describe()}") from exc
        self.local.flush()
        self._reporter.acks.clear()
        self._refresh_due.clear()
        self._marks.flushed()

    async def _close_pools(self) -> None:
        state = self._states.get(asyncio.get_running_loop())
        if state is not None:
            await state.aclose()

    async def _aclose(self) -> None:
        # The core first (waiting receivers get LayerClosedError; a reader still running
        # puts nothing into it), then this loop's readers; others' when their loop next runs.
        self.local.close()
        states, self._states, self._last = list(self._states.values()), {}, None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for state in states:
            if state.loop is running:
                await state.aclose()
            else:
                state.keeper.cancel_threadsafe()
        await self.conn.aclose()

    def _extra_statistics(self) -> dict[str, int]:
        stats = {"round_trips": 0, "commands": 0, "reader_batches": 0, "redis_errors": 0}
        for state in list(self._states.values()):
            for key, value in state.statistics().items():
                stats[key] += value
        stats["redis_data_lost"] = self._data_lost
        stats["memberships_reasserted"] = self._reasserted
        return stats

    def _gauge_statistics(self) -> dict[str, int]:
        return {"memberships": len(self.local.memberships())}
