"""Group history on Redis, for both Redis layers: a stream per group beside the live delivery.

Sending a kept message is one Lua call on the host that holds the group
(``history_send.lua``): it appends the message to the group's stream under the next offset
(``XADD ... MAXLEN <history_size>``, then ``XTRIM ... MINID`` for ``history_ttl``) and runs
the layer's own delivery script in the same call, with the message framed with its position:

* the pub/sub layer's delivery is ``PUBLISH`` to the group's channel
  (``history_publish.lua``): history and live delivery in one round trip, in offset order;
* the queue layer's is its ``queue_group_send.lua``, unchanged: with one Redis, history and
  fan-out in one round trip; with several hosts, the fan-out on the other hosts follows in
  a second round trip with the framed message (see the ordering note in
  :mod:`fast_channels.layers.history`).

Reading (``history_read.lua``) trims by age first, then returns the entries after the
offset asked for, or says that the epoch differs or that the stream no longer holds them
all. Offsets are consecutive and the stream is only ever trimmed at its head, so the last
``n`` entries are exactly the offsets ``last - n + 1 .. last``.

The epoch lives in a small hash beside the stream, made by whichever script finds it
missing (a new group, Redis restarted without persistence, ``flush()``, the hash expired
after ``max(history_ttl, group_expiry)`` idle seconds): from then on offsets restart at 1
and positions of the old epoch are answered ``Unrecoverable(reason="epoch")``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from fast_channels.layers._local import LocalCore
from fast_channels.layers.base import logger
from fast_channels.layers.group_options import GroupOptions
from fast_channels.layers.history import Kept, Position, frame
from fast_channels.layers.redis._connection import RedisConnection, load_script
from fast_channels.layers.redis._group_keys import delete_group_keys, group_key
from fast_channels.layers.redis._pipe import Arg, CommandPipe, Script

__all__ = ["Delivery", "FanOutDelivery", "PublishDelivery", "RedisHistory", "kept_script"]

READ = Script.load("history_read")
PUBLISH = Script.load("history_publish")
_WRAPPER = load_script("history_send")


def kept_script(delivery: Script) -> Script:
    """``delivery`` (a script delivering one group message) with history kept first."""
    source = _WRAPPER.replace("--[[DELIVERY]]", delivery.source)
    return Script(f"history+{delivery.name}", source, hashlib.sha1(source.encode()).hexdigest())


class Delivery(Protocol):
    """How a Redis layer delivers one group message: a script run on the group's host (and,
    for ``everywhere``, on every other host too)."""

    @property
    def script(self) -> Script:
        """The delivery script."""
        ...

    @property
    def message_at(self) -> int:
        """The (1-based) index of the message among the script's ARGV."""
        ...

    @property
    def everywhere(self) -> bool:
        """Whether it runs on every host (members live on several), or the group's only."""
        ...

    def call(self, group: str, data: bytes) -> tuple[Sequence[Arg], Sequence[Arg]]:
        """The script's KEYS and ARGV to deliver ``data`` to ``group``."""
        ...

    def skipped(self, reply: object) -> int:
        """How many members the script's ``reply`` says were skipped because full."""
        ...


@dataclass(frozen=True, slots=True)
class PublishDelivery:
    """The pub/sub layer's delivery: ``PUBLISH`` to the group's channel."""

    channel_of: Callable[[str], bytes]
    script: Script = PUBLISH
    message_at: int = 2
    everywhere: bool = False

    def call(self, group: str, data: bytes) -> tuple[Sequence[Arg], Sequence[Arg]]:
        """No keys; the group's channel and the message."""
        return (), (self.channel_of(group), data)

    def skipped(self, reply: object) -> int:
        """Pub/sub skips nobody at the sender."""
        return 0


@dataclass(frozen=True, slots=True)
class FanOutDelivery:
    """The queue layer's delivery: its group send script, on every host."""

    script: Script
    message_at: int
    arguments: Callable[[str, bytes], tuple[Sequence[Arg], Sequence[Arg]]]
    everywhere: bool = True

    def call(self, group: str, data: bytes) -> tuple[Sequence[Arg], Sequence[Arg]]:
        """The queue layer's KEYS and ARGV of its group send script."""
        return self.arguments(group, data)

    def skipped(self, reply: object) -> int:
        """The script replies ``{pushed, skipped}``."""
        return int(cast(list[int], reply)[1])


class RedisHistory:
    """The history of one Redis layer's groups (a
    :class:`~fast_channels.layers.history.HistoryStore`).

    ``pipes()`` gives the running event loop's command pipe per host; ``delivery`` is the
    layer's way of delivering a group message.
    """

    def __init__(
        self,
        *,
        connection: RedisConnection,
        prefix: str,
        pipes: Callable[[], Sequence[CommandPipe]],
        delivery: Delivery,
        local: LocalCore,
        group_expiry: float,
    ) -> None:
        self._conn = connection
        self._prefix = prefix
        self._pipes = pipes
        self._delivery = delivery
        self._kept = kept_script(delivery.script)
        self._local = local
        self._group_expiry = group_expiry
        self._salt = secrets.token_hex(3)

    def _keys(self, group: str) -> tuple[str, str]:
        return group_key(self._prefix, group, "h"), group_key(self._prefix, group, "hm")

    def _meta_ttl(self, options: GroupOptions) -> int:
        return max(1, math.ceil(max(options.history_ttl, self._group_expiry)))

    async def send(self, group: str, data: bytes, options: GroupOptions) -> None:
        """Keep ``data`` and deliver it framed (see the module)."""
        delivery = self._delivery
        pipes = self._pipes()
        home = self._conn.shard_for(group)
        keys, args = delivery.call(group, data)
        at = delivery.message_at
        kept = (
            options.history_size,
            math.ceil(options.history_ttl * 1000),
            self._meta_ttl(options),
            self._salt,
            group,
            at,
        )
        reply = cast(
            list[object],
            await pipes[home].script(self._kept, (*self._keys(group), *keys), (*kept, *args)),
        )
        replies = [reply[0]]
        if delivery.everywhere and len(pipes) > 1:
            epoch, offset = cast(bytes, reply[1]).decode(), cast(int, reply[2])
            framed = list(args)
            framed[at - 1] = frame(group, epoch, offset, data)
            others = (p for i, p in enumerate(pipes) if i != home)
            replies += await asyncio.gather(
                *(p.script(delivery.script, keys, framed) for p in others)
            )
        self._local.counters.group_sends += 1
        skipped = sum(delivery.skipped(r) for r in replies)
        if skipped:
            self._local.counters.group_skipped_full += skipped
            logger.warning(
                "group_send to %r skipped %d member(s) whose channel is full", group, skipped
            )

    async def _read(self, group: str, options: GroupOptions, *mode: Arg) -> list[object]:
        pipe = self._pipes()[self._conn.shard_for(group)]
        ttl = math.ceil(options.history_ttl * 1000)
        args = (ttl, self._meta_ttl(options), self._salt, *mode)
        return cast(list[object], await pipe.script(READ, self._keys(group), args))

    async def read(self, group: str, since: Position | None, options: GroupOptions) -> Kept:
        """The kept entries after ``since`` (all for None), oldest first."""
        if since is None:
            reply = await self._read(group, options, "all")
        else:
            reply = await self._read(group, options, "since", since.epoch, since.offset)
        epoch, last = cast(bytes, reply[0]).decode(), cast(int, reply[1])
        if not reply[2]:
            return Kept(epoch, last, None)
        newest_first = cast(list[list[object]], reply[3])
        entries: list[bytes] = []
        expected = last
        for _, fields in newest_first:
            offset, data = cast(list[bytes], fields)
            if int(offset) != expected:  # not this epoch's history: never replay it
                return Kept(epoch, last, None)
            entries.append(data)
            expected -= 1
        entries.reverse()
        return Kept(epoch, last, entries)

    async def position(self, group: str, options: GroupOptions) -> Position:
        """Where the group's history ends."""
        reply = await self._read(group, options, "position")
        return Position(cast(bytes, reply[0]).decode(), cast(int, reply[1]))

    async def clear(self) -> None:
        """Delete every group's history (``flush()``): the next message begins a new epoch."""
        await delete_group_keys(self._pipes(), self._prefix)
