"""What a full mailbox does with one more message (the ``overflow=`` option)."""

from __future__ import annotations

import enum

from fast_channels.exceptions import ConfigurationError

__all__ = ["OverflowPolicy"]


class OverflowPolicy(enum.Enum):
    """What a full mailbox does with one more message. Every choice is counted."""

    REJECT = "reject"
    """Refuse the new message; the sender learns it (``ChannelFull`` / group skip count)."""
    DROP_OLDEST = "drop_oldest"
    """Make room by dropping the oldest waiting message (freshest data wins)."""
    DROP_NEWEST = "drop_newest"
    """Drop the new message (what is queued is kept)."""

    @classmethod
    def parse(cls, value: object) -> OverflowPolicy:
        """``value`` as a policy: a member, or its value (``"drop_oldest"``); else a
        ``ConfigurationError`` listing the choices."""
        if isinstance(value, OverflowPolicy):
            return value
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(repr(p.value) for p in cls)
            raise ConfigurationError(
                f"overflow must be an OverflowPolicy or one of {choices}, got {value!r}"
            ) from None
