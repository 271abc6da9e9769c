"""The Redis queue layer: persistent, per-channel-capacity messaging between processes.

Semantics (on top of :mod:`fast_channels.layers.base`): at most once, FIFO per channel;
a message waits in Redis until a receiver takes it or ``expiry`` passes, so a message sent
before anyone receives is delivered when a receiver comes. Named channels (``"thumbnails"``)
are shared by every process: each message reaches exactly one receiver. Channels made by
``new_channel()`` are received in the process (and layer object) that made them.

How it is fast (Python CPU per message is the cost, never Redis):

* ``send`` is one Lua script call (``EVALSHA``) that checks capacity and pushes; the
  message is serialized once. ``group_send`` is one call per Redis server, pushing one
  entry per *receiving process* (see :mod:`._inbox`), not per member.
* Commands issued together by one event loop share a round trip (:mod:`._pipe`).
* ``new_channel()`` channels share one inbox per layer object, drained by one reader
  task per event loop in batches (:mod:`._inbox`); named channels are popped only for
  the receivers actually waiting (:mod:`._named`).

Keys, all under ``<prefix>:`` (``flush()`` deletes exactly these): ``q:<channel>`` named
channel list; ``in:<token>`` a process inbox; ``n:<token>`` its per-channel counts;
``g:<group>`` group members (sorted set, score = time added, for ``group_expiry``);
``gm:<group>`` the same members by receiving process (hash ``"<token>,<bucket>"`` ->
``",a,b"``, 16 buckets, token empty for named channels), so ``group_send`` reads a few
strings per process and ``group_add`` copies a short one;
``gc:<group>`` members' capacities when ``channel_capacity`` gives them another one than
``capacity``. With several hosts, a named channel lives on the host its name hashes to, a
process inbox on the host its token hashes to, and a membership next to its channel, so
``group_send`` runs its script once on every host.

Every process must configure the layer alike (prefix, capacities, expiry, keys).
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers._local import Payload
from fast_channels.layers.base import DEFAULT_MAX_MESSAGE_SIZE, BaseChannelLayer, logger
from fast_channels.layers.redis._connection import (
    REDIS_ERRORS,
    HostSpec,
    RedisConnection,
    connection_error,
    require_prefix,
)
from fast_channels.layers.redis._inbox import REPORT_DELAY, Acks, Commands, inbox_entry, now_ms
from fast_channels.layers.redis._loop import LoopState
from fast_channels.layers.redis._pipe import Script

__all__ = ["RedisChannelLayer"]

TOKEN_LENGTH = 12

SEND = Script.load("queue_send")
GROUP_SEND = Script.load("queue_group_send")
GROUP_ADD = Script.load("queue_group_add")
GROUP_DISCARD = Script.load("queue_group_discard")
ACK = Script.load("queue_ack")
SCRIPTS = (SEND, GROUP_SEND, GROUP_ADD, GROUP_DISCARD, ACK)


def _member_field(channel: str) -> str:
    """Where a group's membership hash keeps ``channel``: ``"<token>,<bucket>"`` (token
    empty for a named channel; 16 buckets keep each joined string short)."""
    bang = channel.find("!")
    token = "" if bang < 0 else channel[max(0, bang - TOKEN_LENGTH) : bang]
    return f"{token},{ord(channel[-1]) % 16}"


class RedisChannelLayer(BaseChannelLayer):
    """A channel layer on Redis lists: messages persist until received or expired.

    ``send`` to a channel holding ``capacity`` messages (per channel, counted in Redis, so
    every sender sees it) raises ``ChannelFull``; ``group_send`` skips full members,
    counts them in ``statistics().group_skipped_full`` and logs a warning. Redis
    unreachable: the call raises ``LayerConnectionError`` within ``socket_timeout``;
    waiting receivers keep waiting and their reader retries with backoff.

    Connection options are those of :class:`~._connection.RedisConnection`;
    ``receive_batch`` caps how many messages a reader pops per round trip.
    """

    def __init__(
        self,
        *,
        hosts: Sequence[HostSpec] | None = None,
        prefix: str = "asgi",
        expiry: float = 60,
        group_expiry: float = 86400,
        capacity: int = 100,
        channel_capacity: Mapping[str | re.Pattern[str], int] | None = None,
        symmetric_encryption_keys: Sequence[str | bytes] | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        sentinels: Sequence[tuple[str, int]] | None = None,
        service_name: str | None = None,
        sentinel_kwargs: Mapping[str, Any] | None = None,
        connection_kwargs: Mapping[str, Any] | None = None,
        max_connections: int = 64,
        pool_timeout: float = 10.0,
        socket_timeout: float = 5.0,
        receive_batch: int = 512,
    ) -> None:
        super().__init__(
            expiry=expiry,
            group_expiry=group_expiry,
            capacity=capacity,
            channel_capacity=channel_capacity,
            symmetric_encryption_keys=symmetric_encryption_keys,
            max_message_size=max_message_size,
        )
        require_prefix(prefix)
        if isinstance(receive_batch, bool) or not isinstance(receive_batch, int):
            raise ConfigurationError(f"receive_batch must be a positive int, got {receive_batch!r}")
        if receive_batch < 1:
            raise ConfigurationError(f"receive_batch must be a positive int, got {receive_batch!r}")
        self.conn = RedisConnection(
            hosts=hosts,
            sentinels=sentinels,
            service_name=service_name,
            sentinel_kwargs=sentinel_kwargs,
            connection_kwargs=connection_kwargs,
            max_connections=max_connections,
            pool_timeout=pool_timeout,
            socket_timeout=socket_timeout,
        )
        self.prefix = prefix
        self.receive_batch = receive_batch
        self._keys = f"{prefix}:"
        ttl = max(1, math.ceil(self.expiry))
        self._refresh_every = max(1, math.ceil(ttl / 4))
        self._ttl = ttl + self._refresh_every  # keys outlast their messages (queue_send.lua)
        self._refresh_due: dict[str, float] = {}  # inbox -> when its TTLs need setting again
        self._group_ttl = max(1, math.ceil(self.group_expiry))
        self._min_capacity = min([self.capacity, *(channel_capacity or {}).values()])
        self._block = max(0.01, min(1.0, self.conn.socket_timeout / 2))
        self._pid = os.getpid()
        self._token = secrets.token_hex(TOKEN_LENGTH // 2)
        self._acks = Acks()
        self._report: asyncio.Handle | None = None
        self._report_urgent = False
        self._report_loop: asyncio.AbstractEventLoop | None = None
        self._states: dict[asyncio.AbstractEventLoop, LoopState] = {}
        self._last: LoopState | None = None

    # -- where things live ---------------------------------------------------------------

    @property
    def token(self) -> str:
        """The token naming this layer object's inbox in this process."""
        if os.getpid() != self._pid:  # a forked child gets an inbox of its own
            self._pid = os.getpid()
            self._token = secrets.token_hex(TOKEN_LENGTH // 2)
            self._acks = Acks()
            self._states = {}
            self._last = None
        return self._token

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
            self.token  # noqa: B018 - resets per-process state after a fork
            state = LoopState(
                conn=self.conn,
                local=self.local,
                acks=self._acks,
                scripts=SCRIPTS,
                report=self._schedule_report,
                decode=self.decode,
                batch=self.receive_batch,
                block=self._block,
                reconcile_every=max(1.0, self.expiry / 2),
                forget=self._forget,
            )
            self._states[loop] = state
        self._last = state
        return state

    def _forget(self, state: LoopState) -> None:
        if self._states.get(state.loop) is state:
            del self._states[state.loop]
        if self._last is state:
            self._last = None

    # -- acknowledgements ------------------------------------------------------------

    def report_acks(self) -> None:
        """Send the pending per-channel counts to Redis (queued on this loop's pipe)."""
        if self._report is not None:
            self._report.cancel()
            self._report = None
        if not self._acks.pending or self._closed:
            return
        state = self._states.get(asyncio.get_running_loop())
        if state is None or state.closed:  # the loop is shutting down: report from the next
            return
        flat = self._acks.take()
        token = self.token
        pipe = state.pipes[self.conn.shard_for(token)]
        future = pipe.submit_script(ACK, (f"{self._keys}n:{token}",), (self._ttl, *flat))
        future.add_done_callback(lambda f: self._acks_done(f, flat))

    def _acks_done(self, future: asyncio.Future[object], flat: list[str | int]) -> None:
        if future.cancelled() or future.exception() is not None:
            self._acks.give_back(flat)

    def _schedule_report(self, urgent: bool) -> None:
        """Report soon: in this loop iteration if ``urgent``, else within REPORT_DELAY."""
        report, loop = self._report, asyncio.get_running_loop()
        if report is not None and self._report_loop is loop and not report.cancelled():
            if not urgent or self._report_urgent:
                return
            report.cancel()
        self._report_loop = loop
        self._report_urgent = urgent
        if urgent:
            self._report = loop.call_soon(self.report_acks)
        else:
            self._report = loop.call_later(REPORT_DELAY, self.report_acks)

    # -- transport -------------------------------------------------------------------

    async def _send(self, channel: str, data: bytes) -> None:
        state = self._state()
        if self._acks.pending:
            self.report_acks()
        now, started = now_ms(), time.monotonic()
        deadline = now + int(self.expiry * 1000)
        refresh = ""  # the inbox whose TTLs this send sets (queue_send.lua, ARGV[6])
        bang = channel.find("!")
        if bang < 0:
            key = f"{self._keys}q:{channel}"
            keys = (key, key)
            entry = b"%013d%s" % (deadline, data)
            args = ("", self.capacity_for(channel), entry, self._ttl, now, 1)
            shard = self.conn.shard_for(channel)
        else:
            token = channel[max(0, bang - TOKEN_LENGTH) : bang]
            inbox = f"{self._keys}in:{token}"
            keys = (inbox, f"{self._keys}n:{token}")
            if started >= self._refresh_due.get(inbox, 0.0):
                refresh = inbox
            entry = inbox_entry(deadline, channel, data)
            args = (channel, self.capacity_for(channel), entry, self._ttl, now, int(bool(refresh)))
            shard = self.conn.shard_for(token)
        if not await state.pipes[shard].script(SEND, keys, args):
            self.local.counters.rejected_full += 1
            raise self._full(channel)
        self.local.counters.sent += 1
        if refresh:
            if len(self._refresh_due) > 4096:
                self._refresh_due.clear()
            self._refresh_due[refresh] = started + self._refresh_every

    async def _receive(self, channel: str) -> Payload:
        state = self._state()
        if "!" in channel:
            self._require_own_channel(channel, self.token)
            inbox = state.inbox
            if inbox is None or inbox.task.done():
                token = self.token
                state.ensure_inbox_reader(f"{self._keys}in:{token}", self.conn.shard_for(token))
            payload = await self.local.get(channel)
            owed = self._acks.handed_out(channel) * 4
            if owed:  # else nothing new to report: what is pending already has a report due
                self._schedule_report(
                    owed >= self._min_capacity and owed >= self.capacity_for(channel)
                )
            return payload
        reader = state.named_reader(channel, f"{self._keys}q:{channel}")
        reader.enter()
        try:
            return await self.local.get(channel)
        finally:
            reader.leave()

    async def _new_channel(self, prefix: str) -> str:
        return f"{prefix}{self.token}!{self._random_suffix()}"

    def _group_keys(self, group: str) -> tuple[str, str, str]:
        keys = self._keys
        return f"{keys}g:{group}", f"{keys}gc:{group}", f"{keys}gm:{group}"

    async def _group_add(self, group: str, channel: str) -> None:
        capacity = self.capacity_for(channel)
        override = "" if capacity == self.capacity else capacity
        args = (now_ms(), channel, self._group_ttl, override, _member_field(channel))
        pipe = self._state().pipes[self.shard_of(channel)]
        await pipe.script(GROUP_ADD, self._group_keys(group), args)

    async def _group_discard(self, group: str, channel: str) -> None:
        pipe = self._state().pipes[self.shard_of(channel)]
        args = (channel, _member_field(channel))
        await pipe.script(GROUP_DISCARD, self._group_keys(group), args)

    async def _group_send(self, group: str, data: bytes) -> None:
        state = self._state()
        if self._acks.pending:
            self.report_acks()
        self.local.counters.group_sends += 1
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
        keys = self._group_keys(group)
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

    async def _flush(self) -> None:
        state = self._state()
        pattern = f"{self._keys}*"
        try:
            for client in cast(list[Commands], state.clients):
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
        except REDIS_ERRORS as exc:
            raise connection_error(exc, f"flush {self.conn.describe()}") from exc
        self.local.flush()
        self._acks.clear()
        self._refresh_due.clear()

    async def _aclose(self) -> None:
        self.local.close()
        states, self._states, self._last = list(self._states.values()), {}, None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for state in states:
            if state.loop is running:
                await state.aclose()
            elif not state.loop.is_closed():
                state.loop.call_soon_threadsafe(state.keeper.cancel)
        await self.conn.aclose()

    def _extra_statistics(self) -> dict[str, int]:
        stats = {"round_trips": 0, "commands": 0, "reader_batches": 0, "redis_errors": 0}
        for state in list(self._states.values()):
            for key, value in state.statistics().items():
                stats[key] += value
        return stats
