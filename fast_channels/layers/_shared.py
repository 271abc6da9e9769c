"""Messages decoded once for many local receivers, and each receiver's own copy.

A group message reaches every local member of its group. The reader decodes it once
(:func:`share`) and puts the same object into every member's mailbox; ``receive()`` then
hands each receiver a copy of its own (:func:`own_copy`), so that no receiver sees another's
changes: a shallow copy when every value is immutable, else a copy unpacked from the message's
packed form (a deep copy that costs what decoding does).
"""

from __future__ import annotations

from fast_channels.layers.history import POSITION_KEY, MessagePosition
from fast_channels.serialization import MsgpackSerializer
from fast_channels.types import Message

__all__ = ["own_copy", "share"]

# A kept message's position is a read-only dict (shared by every receiver, never copied).
_IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None), MessagePosition})
_PLAIN = MsgpackSerializer()


class _Nested(dict[str, object]):
    """A shared message holding lists or dicts, kept packed too: each receiver unpacks one."""

    __slots__ = ("packed",)

    def __init__(self, message: Message) -> None:
        super().__init__(message)
        self.packed = _PLAIN.dumps(message)


def share(message: Message) -> Message:
    """``message`` (decoded) made ready to be handed to many receivers."""
    for value in message.values():
        if type(value) not in _IMMUTABLE:
            return _Nested(message)
    return message


def own_copy(payload: Message) -> Message:
    """A receiver's own copy of a message made by :func:`share` (or any dict)."""
    if isinstance(payload, _Nested):
        copy = _PLAIN.loads(payload.packed)
        position = payload.get(POSITION_KEY)
        if type(position) is MessagePosition:  # read-only, as in every kept message
            copy[POSITION_KEY] = position
        return copy
    return dict(payload)
