"""Where a consumer is in the history of each group it recovered (``AsyncConsumer.recover``).

For each such group it keeps two positions: the *seam*, where the last recovery ended, and
the *last* position dispatched. Live messages at or before the seam (same epoch) were
already dispatched by the recovery: they are dropped, so there is no duplicate. Every other
message of the group is dispatched and its position becomes the last, the one to recover
from after a ``layer.reconnected`` notice or to give the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from fast_channels.layers.history import POSITION_KEY, Position, Recovery

__all__ = ["GroupPositions"]


class GroupPositions:
    """The seam and the last position of each recovered group of one connection."""

    __slots__ = ("_groups",)

    def __init__(self) -> None:
        self._groups: dict[str, list[Position]] = {}  # group -> [seam, last]

    def start(self, recovery: Recovery) -> None:
        """A recovery of its group ended at ``recovery.position``: the new seam."""
        self._groups[recovery.group] = [recovery.position, recovery.position]

    def admit(self, message: Mapping[str, object]) -> bool:
        """False for a live duplicate of recovered messages; else True (and the message's
        position becomes its group's last)."""
        found = message.get(POSITION_KEY)
        if not isinstance(found, dict):
            return True
        fields = cast(dict[str, object], found)
        group = fields.get("group")
        tracked = self._groups.get(group) if isinstance(group, str) else None
        if tracked is None:
            return True
        seam = tracked[0]
        epoch, offset = fields.get("epoch"), fields.get("offset")
        if not isinstance(epoch, str) or not isinstance(offset, int):
            return True
        if epoch == seam.epoch and offset <= seam.offset:
            return False
        tracked[1] = Position(epoch, offset)
        return True

    def last(self, group: str) -> Position | None:
        """The position of the last message of ``group`` dispatched (or the seam)."""
        tracked = self._groups.get(group)
        return None if tracked is None else tracked[1]

    def groups(self) -> list[str]:
        """The groups tracked."""
        return list(self._groups)

    def forget(self, group: str) -> None:
        """Stop tracking ``group`` (the connection left it)."""
        self._groups.pop(group, None)
