"""Group presence on Redis, for both Redis layers: a hash and a lease set per group.

``<prefix>:{<prefix>.<group>}:p`` maps each present channel to its encoded info and
``...:pl`` holds its lease deadline (Redis's clock, so processes' clocks need not agree).
One script (``presence.lua``) does each operation on one group in one call, first removing
the members whose lease ran out and returning them (so that whoever removes them announces
their ``presence.left``, exactly once).

Each process keeps the members it joined (group -> channel -> info) and renews their leases
every ``presence_lease / 3`` seconds: one call per group, all pipelined. A renewal adds back
a member Redis no longer holds (restart, flush, a lease that ran out while the event loop
stalled), with its info, and reports it joined. Both keys expire ``3 * presence_lease``
after the last join or renewal, so a group whose processes all died leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import cast

from fast_channels.layers.presence import Change
from fast_channels.layers.redis._connection import RedisConnection
from fast_channels.layers.redis._group_keys import delete_group_keys, group_key
from fast_channels.layers.redis._pipe import Arg, CommandPipe, Script

__all__ = ["RedisPresence"]

PRESENCE = Script.load("presence")


def _pairs(flat: object, joined: bool) -> list[Change]:
    items = cast(list[bytes], flat)
    return [(joined, items[i].decode(), items[i + 1]) for i in range(0, len(items), 2)]


class RedisPresence:
    """The presence of one Redis layer's groups (a
    :class:`~fast_channels.layers.presence.PresenceStore`)."""

    def __init__(
        self,
        *,
        connection: RedisConnection,
        prefix: str,
        pipes: Callable[[], Sequence[CommandPipe]],
        lease: float,
    ) -> None:
        self._conn = connection
        self._prefix = prefix
        self._pipes = pipes
        self._lease_ms = max(1, math.ceil(lease * 1000))
        self._ttl_ms = 3 * self._lease_ms
        self.heartbeat: float | None = lease / 3
        self._mine: dict[str, dict[str, bytes]] = {}

    def _keys(self, group: str) -> tuple[str, str]:
        return group_key(self._prefix, group, "p"), group_key(self._prefix, group, "pl")

    async def _call(self, group: str, op: str, *args: Arg) -> list[object]:
        pipe = self._pipes()[self._conn.shard_for(group)]
        args = (op, self._lease_ms, self._ttl_ms, *args)
        return cast(list[object], await pipe.script(PRESENCE, self._keys(group), args))

    async def join(self, group: str, channel: str, info: bytes) -> list[Change]:
        """Record ``channel`` as present (renewed by this process from now on)."""
        gone, joined = await self._call(group, "join", channel, info)
        self._mine.setdefault(group, {})[channel] = info
        return [*_pairs(gone, False), *_pairs(joined, True)]

    async def leave(self, group: str, channel: str) -> list[Change]:
        """End ``channel``'s presence (no longer renewed)."""
        members = self._mine.get(group)
        if members is not None:
            members.pop(channel, None)
            if not members:
                del self._mine[group]
        gone, left = await self._call(group, "leave", channel)
        return [*_pairs(gone, False), *_pairs(left, False)]

    async def members(self, group: str) -> tuple[dict[str, bytes], list[Change]]:
        """Every present channel of ``group`` with its info."""
        gone, present = await self._call(group, "list")
        items = cast(list[bytes], present)
        members = {items[i].decode(): items[i + 1] for i in range(0, len(items), 2)}
        return members, _pairs(gone, False)

    async def renew(self) -> list[tuple[str, Change]]:
        """Renew every lease of this process (one call per group, pipelined)."""
        # Queued at once, in this order on each host's pipe: a leave called while they
        # wait runs after them, so a renewal never brings back a member that just left.
        pipes = self._pipes()
        groups = list(self._mine)
        queued = [
            pipes[self._conn.shard_for(group)].submit_script(
                PRESENCE,
                self._keys(group),
                ("renew", self._lease_ms, self._ttl_ms, *self._flat(self._mine[group])),
            )
            for group in groups
        ]
        replies = cast(list[list[object]], await asyncio.gather(*queued))
        changes: list[tuple[str, Change]] = []
        for group, (gone, joined) in zip(groups, replies, strict=True):
            changes += [(group, c) for c in _pairs(gone, False)]
            changes += [(group, c) for c in _pairs(joined, True)]
        return changes

    @staticmethod
    def _flat(members: dict[str, bytes]) -> list[Arg]:
        return [part for pair in members.items() for part in pair]

    def holds(self, group: str, channel: str) -> bool:
        """Whether this process renews ``channel``'s presence in ``group``."""
        return channel in self._mine.get(group, {})

    async def clear(self) -> None:
        """Stop renewing this process's members and delete every group's presence."""
        self._mine.clear()
        await delete_group_keys(self._pipes(), self._prefix)
