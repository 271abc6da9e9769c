"""Group memberships held in one process: which local channels belong to which group,
and until when (``group_expiry`` after their last ``group_add``).

:class:`LocalGroups` has no lock of its own: :class:`~fast_channels.layers._local.LocalCore`
calls it under the core's lock, next to the mailboxes it fans group messages out to.
"""

from __future__ import annotations

__all__ = ["LocalGroups"]


class LocalGroups:
    """The memberships of one layer in one process: group -> channel -> deadline.

    A group message looks up its group's members once per message, so the lookup must not
    scan every membership for expired ones each time: each group keeps a time before which
    none of its memberships ends (its earliest deadline, or earlier), and is only scanned
    once that time has come.
    """

    __slots__ = ("_due", "_groups", "expiry")

    def __init__(self, expiry: float) -> None:
        self.expiry: float = expiry
        self._groups: dict[str, dict[str, float]] = {}
        self._due: dict[str, float] = {}  # group -> no membership of it ends before

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, group: str, channel: str, now: float) -> bool:
        """Add (or refresh) a membership; True if the group had no member before."""
        members = self._groups.get(group)
        deadline = now + self.expiry
        if members is not None:
            members[channel] = deadline  # a later deadline: the group's due time still holds
            return False
        self._groups[group] = {channel: deadline}
        self._due[group] = deadline
        return True

    def discard(self, group: str, channel: str) -> bool:
        """Remove a membership; True if the group has no member left."""
        members = self._groups.get(group)
        if members is None:
            return False
        members.pop(channel, None)
        if members:
            return False
        del self._groups[group], self._due[group]
        return True

    def members(self, group: str, now: float) -> dict[str, float]:
        """``group``'s unexpired memberships (channel -> deadline), or {}; expired ones are
        dropped now. The group's own dict: iterate it at once, do not keep or change it."""
        members = self._groups.get(group)
        if members is None:
            return {}
        if now >= self._due[group]:  # a membership may have ended: look
            for channel in [ch for ch, deadline in members.items() if deadline <= now]:
                del members[channel]
            if not members:
                del self._groups[group], self._due[group]
                return {}
            self._due[group] = min(members.values())
        return members

    def names(self) -> list[str]:
        """Every group with a member."""
        return list(self._groups)

    def channels(self) -> set[str]:
        """Every channel that is a member of some group (expired or not)."""
        found: set[str] = set()
        for members in self._groups.values():
            found.update(members)
        return found

    def sweep(self, now: float) -> None:
        """Drop every expired membership (and groups left empty)."""
        for group in list(self._groups):
            self.members(group, now)

    def clear(self) -> None:
        """Forget every membership."""
        self._groups.clear()
        self._due.clear()
