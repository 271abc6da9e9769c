"""The in-memory layer's presence: who joined which group, in the layer object.

There is one process, so there are no leases to renew: a member is present from
``presence_join`` until ``group_discard``, ``flush()``, or the end of its group membership
(``group_expiry`` after its last ``group_add``), which the core's clock decides; a lapsed
one is removed, and announced, when the group's presence is next read or joined.
"""

from __future__ import annotations

from fast_channels.layers._local import LocalCore
from fast_channels.layers.presence import Change

__all__ = ["MemoryPresence"]


class MemoryPresence:
    """Presence of one in-memory layer (a :class:`~fast_channels.layers.presence.PresenceStore`)."""

    heartbeat: float | None = None

    def __init__(self, *, local: LocalCore) -> None:
        self._local = local
        self._book: dict[str, dict[str, bytes]] = {}

    def _lapsed(self, group: str) -> list[Change]:
        members = self._book.get(group)
        if not members:
            return []
        alive = set(self._local.group_channels(group))
        gone: list[Change] = [(False, ch, info) for ch, info in members.items() if ch not in alive]
        for _, channel, _ in gone:
            del members[channel]
        if not members:
            del self._book[group]
        return gone

    async def join(self, group: str, channel: str, info: bytes) -> list[Change]:
        """Record ``channel`` as present in ``group`` with ``info``."""
        changes = self._lapsed(group)
        members = self._book.setdefault(group, {})
        if channel not in members:
            changes.append((True, channel, info))
        members[channel] = info
        return changes

    async def leave(self, group: str, channel: str) -> list[Change]:
        """End ``channel``'s presence in ``group``."""
        members = self._book.get(group)
        info = None if members is None else members.pop(channel, None)
        if members is not None and not members:
            del self._book[group]
        return [] if info is None else [(False, channel, info)]

    async def members(self, group: str) -> tuple[dict[str, bytes], list[Change]]:
        """The present channels of ``group`` (lapsed memberships removed first)."""
        changes = self._lapsed(group)
        return dict(self._book.get(group, {})), changes

    async def renew(self) -> list[tuple[str, Change]]:
        """Nothing to renew in one process."""
        return []

    def holds(self, group: str, channel: str) -> bool:
        """Whether ``channel`` is present in ``group``."""
        return channel in self._book.get(group, {})

    async def clear(self) -> None:
        """Forget every member."""
        self._book.clear()
