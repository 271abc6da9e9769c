"""Group history with recovery: what a receiver missed while it was away, or a clear "cannot".

Opt-in per group (``group_options={"room.*": GroupOptions(history_size=500)}``): a group
that keeps history records every ``group_send`` to it, bounded by ``history_size`` messages
and ``history_ttl`` seconds. Groups without it cost nothing more than before.

Positions
    Each kept message gets the next *offset* of its group (1, 2, 3, ...), and every member
    receives it with ``message["position"] == {"group": ..., "epoch": ..., "offset": ...}``
    (a read-only dict, :class:`MessagePosition`, shared by the receivers). The layer sets
    that key: a message sent to such a group must not carry its own ``"position"``; it is
    refused with ``InvalidMessageError``. The *epoch* names one
    unbroken history of the group: it changes when the history is lost (Redis restarted
    without persistence or was flushed, ``flush()``, the group idle past its keys' expiry,
    a new in-memory layer), and offsets start again at 1 under the new epoch. A
    :class:`Position` is (epoch, offset); it travels to a client as ``str(position)``
    (``"<epoch>:<offset>"``) and comes back through :meth:`Position.parse`.

Recovery
    ``await layer.group_recover(group, channel, since=position)`` makes ``channel`` a member
    first and then reads the history, so nothing falls between the two:

    * :class:`Recovered` ``(messages, position)``: every message after ``since``, oldest
      first, each with its ``"position"``; ``position`` is where they end. Every later
      message reaches ``channel`` live. Live messages already on their way when the history
      was read are duplicates: ``result.covers(message)`` is true for exactly those (same
      epoch, offset up to ``position.offset``); skip them, and there is no gap and no
      duplicate at the seam. (Consumers do this by themselves: ``AsyncConsumer.recover``.)
    * :class:`Unrecoverable` ``(reason, position)``: the history does not reach back to
      ``since`` (``"trimmed"``: more was sent than it keeps, or older than its TTL), its
      epoch changed (``"epoch"``), or ``since`` lies past its end (``"ahead"``: not a
      position this history gave). Nothing is returned, nothing is replayed; reload the
      state from its source and go on from ``position``. ``channel`` is a member anyway.

    ``since=None`` returns all the history keeps (e.g. the recent messages of a chat room for
    a page opening it); ``group_history`` reads without joining; ``group_position`` is the
    position of the group's last message (``offset`` 0 before the first).

Delivery order
    Kept messages reach members in offset order on the in-memory layer, the pub/sub layer
    (history and ``PUBLISH`` in one Lua script) and the queue layer on one Redis (history and
    fan-out in one script). On the queue layer over several ``hosts``, members on other hosts
    than the group's get each message in a second step: messages of *concurrent senders*
    may reach them in another order than their offsets (each still once; recovery is
    exact).

Where it is kept
    In memory: a ring per group in the layer object (the process). On Redis: a stream per
    group (``XADD`` with an exact ``MAXLEN``, trimmed by age with ``MINID``) and a small hash
    holding the epoch and the last offset, all under one hash tag so one script touches one
    slot (:mod:`fast_channels.layers.redis._history`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal, NamedTuple, NoReturn, Protocol, cast, runtime_checkable

from fast_channels.exceptions import (
    DecryptionError,
    HistoryNotEnabledError,
    InvalidMessageError,
    InvalidPositionError,
)
from fast_channels.layers._parts import LayerParts
from fast_channels.layers.group_options import GroupOptions
from fast_channels.layers.names import require_channel_name, require_group_name
from fast_channels.types import Message

__all__ = [
    "MARK",
    "POSITION_KEY",
    "HistoryLayer",
    "HistoryMethods",
    "HistoryStore",
    "Kept",
    "MessagePosition",
    "Position",
    "Recovered",
    "Recovery",
    "Unrecoverable",
    "UnrecoverableReason",
    "frame",
    "split_frame",
]

POSITION_KEY = "position"
"""The key under which a member receives a kept message's position."""

MARK = b"\xc1"
"""Opens and closes the position header of a kept message on the wire: ``MARK epoch:offset:group
MARK data``. MessagePack never uses this byte and an encrypted message is ASCII, so no plain
message starts with it."""

_EPOCH = re.compile(r"[0-9a-zA-Z]{1,64}", re.ASCII)
_MAX_OFFSET = 2**63 - 1


_Refused = Callable[..., NoReturn]


def _read_only(*args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        "a message's position is shared by every receiver and read-only: "
        "copy it with dict(message['position']) to change it"
    )


class MessagePosition(dict[str, str | int]):
    """What a kept message carries under ``"position"``: ``{"group", "epoch", "offset"}``.

    A plain dict to read, compare and serialize (JSON, msgpack), but read-only: every
    receiver of a group message shares it, so changing it raises ``TypeError``
    (``Position.of(message)`` gives a :class:`Position`; copy it with ``dict(...)``).
    """

    __slots__ = ()

    def __init__(self, group: str, epoch: str, offset: int) -> None:
        super().__init__(group=group, epoch=epoch, offset=offset)

    __setitem__: ClassVar[_Refused] = _read_only
    __delitem__: ClassVar[_Refused] = _read_only
    __ior__: ClassVar[_Refused] = _read_only
    clear: ClassVar[_Refused] = _read_only
    pop: ClassVar[_Refused] = _read_only
    popitem: ClassVar[_Refused] = _read_only
    setdefault: ClassVar[_Refused] = _read_only
    update: ClassVar[_Refused] = _read_only

    def __reduce__(self) -> tuple[type[MessagePosition], tuple[str, str, int]]:
        return MessagePosition, (str(self["group"]), str(self["epoch"]), int(self["offset"]))


UnrecoverableReason = Literal["epoch", "trimmed", "ahead"]
"""Why a history cannot give what was missed (see :class:`Unrecoverable`)."""


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a group's history: its ``epoch`` and the ``offset`` of a message in it.

    ``str(position)`` is ``"<epoch>:<offset>"``, the form to hand a client;
    :meth:`parse` reads it (or a ``{"epoch": ..., "offset": ...}`` mapping) back.
    """

    epoch: str
    offset: int

    def __str__(self) -> str:
        return f"{self.epoch}:{self.offset}"

    @classmethod
    def parse(cls, value: object) -> Position:
        """The position in ``value``, as a client sent it back: ``"<epoch>:<offset>"``, a
        mapping with ``"epoch"`` and ``"offset"`` (e.g. a message's ``"position"``), or a
        Position. ``InvalidPositionError`` (a ``ValueError``) for anything else."""
        if isinstance(value, Position):
            return value
        epoch: object
        offset: object
        if isinstance(value, str):
            epoch, _, offset = value.partition(":")
            if isinstance(offset, str) and offset.isascii() and offset.isdigit():
                offset = int(offset)
        elif isinstance(value, Mapping):
            fields = cast(Mapping[object, object], value)
            epoch, offset = fields.get("epoch"), fields.get("offset")
        else:
            raise InvalidPositionError(
                f"a position is a str '<epoch>:<offset>' or a mapping with 'epoch' and "
                f"'offset', got {type(value).__name__}"
            )
        if not isinstance(epoch, str) or not _EPOCH.fullmatch(epoch):
            raise InvalidPositionError(
                f"a position's epoch is 1 to 64 ASCII letters or digits, got {epoch!r}"
            )
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int)
            or not 0 <= offset <= _MAX_OFFSET
        ):
            raise InvalidPositionError(
                f"a position's offset is an int >= 0, got {offset!r} (in {value!r})"
            )
        return cls(epoch, offset)

    @classmethod
    def of(cls, message: Mapping[str, object]) -> Position | None:
        """The position a kept message was received with, or None (not a kept message)."""
        found = message.get(POSITION_KEY)
        if not isinstance(found, Mapping):
            return None
        try:
            return cls.parse(cast(Mapping[object, object], found))
        except InvalidPositionError:
            return None

    def as_dict(self) -> dict[str, str | int]:
        """``{"epoch": ..., "offset": ...}`` (e.g. for JSON)."""
        return {"epoch": self.epoch, "offset": self.offset}


def _covered(group: str, position: Position, message: Mapping[str, object]) -> bool:
    found = message.get(POSITION_KEY)
    if not isinstance(found, dict):
        return False
    fields = cast(dict[str, object], found)
    offset = fields.get("offset")
    return (
        fields.get("group") == group
        and fields.get("epoch") == position.epoch
        and isinstance(offset, int)
        and offset <= position.offset
    )


@dataclass(frozen=True, slots=True)
class Recovered:
    """The history reached back: ``messages`` are all that came after the position asked
    for, oldest first (each with its ``"position"``), up to ``position``."""

    group: str
    position: Position
    """The position of the last message in ``messages`` (or the position asked for, when
    nothing was missed)."""
    messages: tuple[Message, ...] = ()
    recovered: Literal[True] = field(default=True, init=False)
    """True: what was missed is in ``messages`` (``Unrecoverable.recovered`` is False)."""

    def covers(self, message: Mapping[str, object]) -> bool:
        """Whether ``message``, received live, is one of this recovery's (a duplicate at
        the seam: same group and epoch, offset up to ``position.offset``)."""
        return _covered(self.group, self.position, message)


@dataclass(frozen=True, slots=True)
class Unrecoverable:
    """The history cannot give what was missed (``reason``); nothing was replayed.

    ``"trimmed"``: the messages after the position asked for are no longer all kept (more
    were sent than ``history_size``, or they are older than ``history_ttl``). ``"epoch"``: the
    history was lost and begun again (Redis restarted or flushed, ...). ``"ahead"``: the
    position lies past the end of this history. Reload from the source of truth and go on
    from ``position``, the group's current one.
    """

    group: str
    position: Position
    reason: UnrecoverableReason
    recovered: Literal[False] = field(default=False, init=False)
    """False: what was missed is lost to this receiver."""

    def covers(self, message: Mapping[str, object]) -> bool:
        """Whether ``message``, received live, is at or before ``position`` (sent before
        the state the receiver reloads from ``position`` on)."""
        return _covered(self.group, self.position, message)


Recovery = Recovered | Unrecoverable
"""What ``group_recover`` and ``group_history`` return; ``result.recovered`` tells which."""


def frame(group: str, epoch: str, offset: int, data: bytes) -> bytes:
    """``data`` with its position header (see :data:`MARK`)."""
    return b"%s%s:%d:%s%s%s" % (MARK, epoch.encode(), offset, group.encode(), MARK, data)


def split_frame(payload: bytes) -> tuple[MessagePosition, bytes] | None:
    """(position, data) of a framed payload, or None if it is not one."""
    if payload[:1] != MARK:
        return None
    end = payload.find(MARK, 1)
    if end < 0:
        return None
    try:
        epoch, offset, group = payload[1:end].decode("ascii").split(":", 2)
        return MessagePosition(group, epoch, int(offset)), payload[end + 1 :]
    except ValueError:
        return None


class Kept(NamedTuple):
    """What a history store read for one group."""

    epoch: str
    last: int
    """The offset of the group's last message (0: none yet in this epoch)."""
    entries: list[bytes] | None
    """The messages after the position asked for, oldest first; None when the epoch is
    not the one asked for, or the history does not reach back that far."""


class HistoryStore(Protocol):
    """Where a layer keeps its groups' history (one implementation per backend)."""

    async def send(self, group: str, data: bytes, options: GroupOptions) -> None:
        """Record ``data`` as the group's next message and deliver it, framed, to the members."""
        ...

    async def read(self, group: str, since: Position | None, options: GroupOptions) -> Kept:
        """The group's messages after ``since`` (None: all kept), and where they end."""
        ...

    async def position(self, group: str, options: GroupOptions) -> Position:
        """The position of the group's last message."""
        ...

    async def clear(self) -> None:
        """Delete every group's history (``flush()``)."""
        ...


@runtime_checkable
class HistoryLayer(Protocol):
    """A channel layer that keeps group history (every layer of fast-channels does)."""

    async def group_position(self, group: str) -> Position:
        """The position of ``group``'s last kept message."""
        ...

    async def group_history(self, group: str, since: Position | None = None) -> Recovery:
        """What ``group`` kept after ``since``, without joining it."""
        ...

    async def group_recover(
        self, group: str, channel: str, since: Position | None = None
    ) -> Recovery:
        """Make ``channel`` a member of ``group``, then return what it missed."""
        ...


class HistoryMethods(LayerParts):
    """The history part of every layer (``BaseChannelLayer`` inherits it)."""

    _history: HistoryStore | None

    def _new_history_store(self) -> HistoryStore:
        raise NotImplementedError(
            f"{type(self).__name__} keeps no group history: use a fast-channels layer "
            "(in-memory, Redis queue or Redis pub/sub) for group_options with history_size"
        )

    def _history_store(self) -> HistoryStore:
        store = self._history
        if store is None:
            store = self._history = self._new_history_store()
        return store

    def _history_options(self, group: str) -> GroupOptions:
        require_group_name(group)
        options = self._group_rules.get(group)
        if options is None or not options.keeps_history:
            raise HistoryNotEnabledError(
                f"group {group!r} keeps no history: give the layer group_options="
                f"{{{group!r}: GroupOptions(history_size=...)}} (or a pattern matching it), "
                "alike in every process"
            )
        return options

    async def _send_kept(self, group: str, message: Message, options: GroupOptions) -> None:
        """``group_send`` to a group that keeps history (the caller checked the rest)."""
        data = self.encode(message)
        if POSITION_KEY in message:
            raise InvalidMessageError(
                f"group {group!r} keeps history, so its members receive each message's "
                f"position under {POSITION_KEY!r}: rename that key of your message"
            )
        await self._history_store().send(group, data, options)

    def _decode_framed(self, payload: bytes) -> Message | None:
        """The kept message in ``payload``, with its position; None if it is not framed.

        Raises what the serializer raises for the message inside."""
        split = split_frame(payload)
        if split is None:
            return None
        position, data = split
        message = self.serializer.loads(data)
        message[POSITION_KEY] = position
        return message

    async def group_position(self, group: str) -> Position:
        """The position of ``group``'s last kept message (offset 0 before the first).

        ``HistoryNotEnabledError`` if the group keeps no history; ``LayerConnectionError``
        if Redis cannot be reached.
        """
        self._check_open()
        options = self._history_options(group)
        return await self._history_store().position(group, options)

    async def group_history(self, group: str, since: Position | None = None) -> Recovery:
        """What ``group`` kept after ``since`` (None: all it keeps), without joining it.

        :class:`Recovered` with the messages (oldest first, each with its ``"position"``)
        or :class:`Unrecoverable` saying why not (see the module). To catch up *and* go on
        receiving, use :meth:`group_recover`, which joins first.
        """
        self._check_open()
        options = self._history_options(group)
        if since is not None and not isinstance(since, Position):
            raise InvalidPositionError(
                f"since must be a Position (Position.parse(...) reads a client's), got {since!r}"
            )
        kept = await self._history_store().read(group, since, options)
        current = Position(kept.epoch, kept.last)
        if kept.entries is None:
            reason: UnrecoverableReason
            if since is not None and since.epoch != kept.epoch:
                reason = "epoch"
            elif since is not None and since.offset > kept.last:
                reason = "ahead"
            else:
                reason = "trimmed"
            return Unrecoverable(group, current, reason)
        first = kept.last - len(kept.entries) + 1
        messages: list[Message] = []
        for offset, data in enumerate(kept.entries, first):
            try:
                message = self.serializer.loads(data)
            except (DecryptionError, InvalidMessageError):
                self.local.counters.undecodable += 1
                continue
            message[POSITION_KEY] = MessagePosition(group, kept.epoch, offset)
            messages.append(message)
        return Recovered(group, current, tuple(messages))

    async def group_recover(
        self, group: str, channel: str, since: Position | None = None
    ) -> Recovery:
        """Make ``channel`` a member of ``group``, then return what it missed after ``since``.

        Joining comes first, so every message after the returned position reaches
        ``channel`` live; skip the live ones ``result.covers(message)`` (sent while the
        history was read) and there is neither gap nor duplicate. :class:`Unrecoverable`
        when the history cannot give it (``channel`` is a member anyway). ``since=None``:
        all the group keeps. ``HistoryNotEnabledError`` if the group keeps no history.
        """
        self._check_open()
        self._history_options(group)
        require_channel_name(channel)
        await self.group_add(group, channel)
        return await self.group_history(group, since)
