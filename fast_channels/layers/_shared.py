"""Messages decoded once for many local receivers, and each receiver's own copy.

A group message reaches every local member of its group. The reader decodes it once
(:func:`share`) and puts the same object into every member's mailbox; ``receive()`` then
hands each receiver a copy of its own (:func:`own_copy`), so that no receiver sees another's
changes: a shallow copy when every value is immutable (and a copy of the flat ``"position"``
dict of a group that keeps history), else a copy unpacked from the message's packed form (a
deep copy that costs what decoding does).
"""

from __future__ import annotations

from typing import cast

from fast_channels.layers.history import POSITION_KEY
from fast_channels.serialization import MsgpackSerializer
from fast_channels.types import Message

__all__ = ["own_copy", "share"]

_IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None)})
_POSITION = POSITION_KEY
_PLAIN = MsgpackSerializer()


class _Nested(dict[str, object]):
    """A shared message holding lists or dicts, kept packed too: each receiver unpacks one."""

    __slots__ = ("packed",)

    def __init__(self, message: Message) -> None:
        super().__init__(message)
        self.packed = _PLAIN.dumps(message)


class _Positioned(dict[str, object]):
    """A shared message of immutable values but for a flat ``"position"`` dict (a message of
    a group that keeps history): each receiver copies the two dicts, nothing is unpacked."""

    __slots__ = ()


def share(message: Message) -> Message:
    """``message`` (decoded) made ready to be handed to many receivers."""
    for key, value in message.items():
        if type(value) not in _IMMUTABLE:
            if key == _POSITION and type(value) is dict and _flat_rest(message):
                return _Positioned(message)
            return _Nested(message)
    return message


def _flat_rest(message: Message) -> bool:
    """Whether every value of ``message`` is immutable, but for a "position" dict of them."""
    for key, value in message.items():
        if type(value) not in _IMMUTABLE:
            if key != _POSITION or type(value) is not dict:
                return False
            for inner in cast(dict[str, object], value).values():
                if type(inner) not in _IMMUTABLE:
                    return False
    return True


def own_copy(payload: Message) -> Message:
    """A receiver's own copy of a message made by :func:`share` (or any dict)."""
    if isinstance(payload, _Nested):
        return _PLAIN.loads(payload.packed)
    copy = dict(payload)
    if isinstance(payload, _Positioned):
        copy[_POSITION] = dict(copy[_POSITION])
    return copy
