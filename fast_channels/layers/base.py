"""The channel layer contract, and the base class that enforces it once for every backend.

Delivery semantics, the same for every layer:

* **At most once.** A message is delivered to one receiver at most. It is either
  delivered, or the sender gets an error (``ChannelFull``, ``LayerConnectionError``):
  nothing is lost without a trace. Messages that expire, or that a receiver cannot
  decrypt, are dropped and counted in ``statistics()`` (those it cannot decrypt are also
  logged). docs/guarantees.md lists every kind of loss and how it is reported.
* **FIFO per channel.** Messages sent to one channel from one sender are received in the
  order they were sent.
* **Capacity per channel,** as the sender sees it: ``send`` to a channel that holds
  ``capacity`` messages raises ``ChannelFull``. ``group_send`` skips full members,
  counts them and logs a warning; the other members still get the message.
* **Expiry.** A message not received within ``expiry`` seconds is dropped. A group
  membership not refreshed (``group_add`` again) within ``group_expiry`` seconds ends.
* **Cancellation.** Cancelling a ``receive()`` loses no message.
* **No impersonation.** A message whose ``type`` is an event of the ASGI protocol
  (``websocket.*``, ``http.*``, ``lifespan.*``; see :func:`.names.is_server_event_type`) is
  refused with ``InvalidMessageError`` by ``send`` and ``group_send``: those events come
  only from the server, so a layer message must never pass for one (a consumer drops any
  that arrive).

Every public method validates its arguments before anything reaches a backend and raises
the typed errors of :mod:`fast_channels.exceptions`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import re
import secrets
from abc import ABC
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, Never, Self, cast

from fast_channels.exceptions import (
    ChannelFull,
    ConfigurationError,
    DecryptionError,
    InvalidChannelNameError,
    InvalidMessageError,
    LayerClosedError,
    MessageTooLargeError,
    MessageTypeError,
)
from fast_channels.layers._local import LocalCore, Payload
from fast_channels.layers._options import keyword_options, unknown_option
from fast_channels.layers._shared import own_copy, share
from fast_channels.layers._v1_helpers import V1LayerHelpers, missing_method
from fast_channels.layers.contract import ChannelLayer
from fast_channels.layers.group_options import GroupOptions, GroupOptionsMap, GroupRules
from fast_channels.layers.history import MARK, HistoryMethods
from fast_channels.layers.names import (
    APP_MESSAGE_TYPES,
    VALID_CHANNELS,
    ChannelNameCheck,
    is_server_event_type,
    require_channel_name,
    require_channel_prefix,
    require_group_name,
)
from fast_channels.layers.overflow import OverflowPolicy
from fast_channels.layers.presence import PresenceMethods
from fast_channels.layers.statistics import LayerStatistics
from fast_channels.serialization import Serializer, make_serializer
from fast_channels.sync import SyncLayerMethods
from fast_channels.types import Message

__all__ = [
    "RESYNC_MESSAGE_TYPE",
    "BaseChannelLayer",
    "ChannelLayer",
    "LayerStatistics",
]

logger: logging.Logger = logging.getLogger("fast_channels.layers")

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024

RESYNC_MESSAGE_TYPE = "layer.reconnected"
"""The ``type`` of the notice a layer puts on its local channels when messages to them may
have been lost (Redis restarted or lost its data, a subscriber reconnected). A consumer
handles it in :meth:`~fast_channels.consumer.base.AsyncConsumer.layer_reconnected`."""


def _positive(name: str, value: object, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "a positive int" if integer else "a positive number of seconds"
        raise ConfigurationError(f"{name} must be {kind}, got {value!r}")


class BaseChannelLayer(SyncLayerMethods, V1LayerHelpers, HistoryMethods, PresenceMethods, ABC):
    """Validation, encoding, capacity and expiry rules shared by every backend.

    A backend implements the ``_``-prefixed transport methods only; they receive names
    that are already valid and payloads that are already encoded. Blocking twins of the
    methods (``send_sync``, ``group_send_sync``, ...) come from :mod:`fast_channels.sync`.

    A layer written for fast-channels 1.x overrides the public methods instead, with the
    helpers 1.x gave it (``get_capacity``, ``non_local_name``, ...: see
    :mod:`fast_channels.layers._v1_helpers`); a method it implements neither way raises
    ``NotImplementedError``, and ``aclose()`` calls its own ``close()``.

    Opt-in, per group: history with recovery (``group_options``; :mod:`.history`) and
    presence with leases of ``presence_lease`` seconds (:mod:`.presence`).
    """

    extensions: Sequence[str] = ("groups", "flush")
    overflow: OverflowPolicy = OverflowPolicy.REJECT
    """What a full local mailbox does with one more message (see :class:`OverflowPolicy`)."""
    resync_type: str = RESYNC_MESSAGE_TYPE
    """The ``type`` of the notices of :meth:`_announce_resync` (a Redis layer's
    ``on_reconnect=`` option sets another)."""

    def __init__(
        self,
        *,
        expiry: float = 60,
        group_expiry: float = 86400,
        capacity: int = 100,
        channel_capacity: Mapping[str | re.Pattern[str], int] | None = None,
        symmetric_encryption_keys: Sequence[str | bytes] | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        group_options: GroupOptionsMap | None = None,
        presence_lease: float = 10.0,
        **unknown: Never,
    ) -> None:
        if unknown:
            raise unknown_option(type(self), unknown, keyword_options(BaseChannelLayer))
        _positive("expiry", expiry)
        _positive("presence_lease", presence_lease)
        _positive("group_expiry", group_expiry)
        _positive("capacity", capacity, integer=True)
        _positive("max_message_size", max_message_size, integer=True)
        self.expiry: float = float(expiry)
        self.group_expiry: float = float(group_expiry)
        self.capacity: int = int(capacity)  # int subclasses (IntEnum) as plain ints, for Redis
        self.max_message_size = max_message_size
        self._capacity_patterns = self._compile_capacities(channel_capacity or {})
        self._capacity_cache: dict[str, int] = {}
        self.serializer: Serializer = make_serializer(symmetric_encryption_keys)
        self._closed = False
        self._group_rules: GroupRules = GroupRules(group_options)
        self._optioned = bool(self._group_rules.patterns)  # read by every group_send
        self.presence_lease: float = float(presence_lease)
        self.local: LocalCore = self._new_core()
        self._history = None
        self._presence = None
        self._heartbeat = None

    def _renew_core(self) -> None:
        """Start afresh with an empty local core (a forked child: none of its parent's),
        and no history or presence of the parent's (its leases are the parent's to renew)."""
        self.local = self._new_core()
        self._history = None
        self._presence = None
        self._heartbeat = None

    def group_options_for(self, group: str) -> GroupOptions | None:
        """The ``group_options`` of ``group`` (the first matching pattern's), or None."""
        return self._group_rules.get(group)

    def _new_core(self) -> LocalCore:
        return LocalCore(
            expiry=self.expiry,
            group_expiry=self.group_expiry,
            capacity_for=self.capacity_for,
            overflow=self.overflow,
        )

    @staticmethod
    def _compile_capacities(
        channel_capacity: Mapping[str | re.Pattern[str], int],
    ) -> list[tuple[re.Pattern[str], int]]:
        if not isinstance(channel_capacity, Mapping):
            raise ConfigurationError(
                "channel_capacity must be a mapping of glob pattern (str) or compiled regex "
                f"to capacity, got {type(channel_capacity).__name__}"
            )
        compiled: list[tuple[re.Pattern[str], int]] = []
        for pattern, cap in channel_capacity.items():
            _positive(f"channel_capacity[{pattern!r}]", cap, integer=True)
            if isinstance(pattern, str):
                compiled.append((re.compile(fnmatch.translate(pattern)), int(cap)))
            elif isinstance(pattern, re.Pattern):
                compiled.append((pattern, int(cap)))
            else:
                raise ConfigurationError(
                    f"channel_capacity keys must be glob strings or re.Pattern, got {pattern!r}"
                )
        return compiled

    # -- rules -----------------------------------------------------------------------

    def capacity_for(self, channel: str) -> int:
        """The capacity of ``channel``: the first matching ``channel_capacity`` pattern,
        else ``capacity``."""
        cap = self._capacity_cache.get(channel)
        if cap is None:
            cap = self.capacity
            for pattern, pattern_cap in self._capacity_patterns:
                if pattern.match(channel):
                    cap = pattern_cap
                    break
            if len(self._capacity_cache) > 10_000:
                self._capacity_cache.clear()
            self._capacity_cache[channel] = cap
        return cap

    def get_capacity(self, channel: str) -> int:
        """The capacity of ``channel`` (fast-channels 1.x's name of :meth:`capacity_for`)."""
        return self.capacity_for(channel)

    def compile_capacities(
        self, channel_capacity: Mapping[str | re.Pattern[str], int]
    ) -> list[tuple[re.Pattern[str], int]]:
        """Compile a ``channel_capacity`` mapping (glob strings or regexes to capacities),
        as ``__init__`` does; 1.x layers assign the result to ``channel_capacity``."""
        return self._compile_capacities(channel_capacity)

    require_valid_channel_name: ClassVar[ChannelNameCheck] = staticmethod(require_channel_name)
    require_valid_group_name: staticmethod[[object], str] = staticmethod(require_group_name)

    def encode(self, message: object) -> bytes:
        """Validate ``message`` and encode it once, checking ``max_message_size``."""
        if not isinstance(message, dict):
            raise MessageTypeError(
                f"a message must be a dict with a 'type' key, got {type(message).__name__}"
            )
        msg = cast(Message, message)
        kind = msg.get("type")
        if not isinstance(kind, str) or not kind:
            raise InvalidMessageError(
                "a message needs a non-empty str 'type' naming its handler, e.g. "
                f"{{'type': 'chat.message', ...}}; got type={kind!r}"
            )
        if kind not in APP_MESSAGE_TYPES and is_server_event_type(kind):
            raise InvalidMessageError(
                f"a message of type {kind!r} would pass for an event of the ASGI protocol, "
                "which only the server sends; name it after your app instead, e.g. "
                f"'app.{kind}' (handled by app_{kind.replace('.', '_')})"
            )
        for key in msg:
            if not isinstance(key, str):
                raise InvalidMessageError(
                    f"message keys must be str; {key!r} in a {kind!r} message is not"
                )
        data = self.serializer.dumps(msg)
        if len(data) > self.max_message_size:
            raise MessageTooLargeError(
                f"{kind!r} message is {len(data)} bytes encoded, over this layer's "
                f"max_message_size of {self.max_message_size}; send a reference to the data "
                "instead, or raise max_message_size"
            )
        return data

    def decode(self, channel: str, payload: Payload) -> Message | None:
        """The message in ``payload``, or None (logged, counted) if it cannot be decoded."""
        if not isinstance(payload, bytes):
            return dict(payload)
        try:
            return self.serializer.loads(payload)
        except (DecryptionError, InvalidMessageError) as exc:
            error = exc
        if payload[:1] == MARK:  # a kept message, framed with its position: rare, so here
            try:
                framed = self._decode_framed(payload)
            except (DecryptionError, InvalidMessageError) as exc:
                error = exc
            else:
                if framed is not None:
                    return framed
        self.local.counters.undecodable += 1
        logger.error("dropped a message on channel %r: %s", channel, error)
        return None

    @staticmethod
    def shared(message: Message) -> Message:
        """``message``, decoded once, made ready to be handed to many local receivers.

        ``receive`` gives each receiver its own dict: a shallow copy when every value is
        immutable (str, bytes, numbers, bool, None), and otherwise its own unpacked copy,
        so no receiver sees another's changes to a nested value (:mod:`._shared`).
        """
        return share(message)

    @staticmethod
    def _require_own_channel(channel: str, token: str) -> None:
        """Refuse to receive on a process-local (``!``) channel another layer made."""
        head, bang, _ = channel.partition("!")
        if bang and not head.endswith(token):
            raise InvalidChannelNameError(
                f"cannot receive on {channel!r}: a channel with '!' is process-local and "
                "only the layer object whose new_channel() made it receives on it; use a "
                "named channel (no '!') to share messages between processes"
            )

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise LayerClosedError(
                f"this {type(self).__name__} was closed with aclose(); create a new layer"
            )

    def _full(self, channel: str) -> ChannelFull:
        return ChannelFull(
            f"channel {channel!r} is full ({self.capacity_for(channel)} messages waiting): "
            "its receiver is not keeping up. Retry later, or raise capacity= / "
            "channel_capacity= for it"
        )

    # -- public API --------------------------------------------------------------------

    async def send(self, channel: str, message: Message) -> None:
        """Queue ``message`` for the one receiver of ``channel`` (see module semantics)."""
        self._check_open()
        self.require_valid_channel_name(channel)
        await self._send(channel, self.encode(message))

    async def receive(self, channel: str) -> Message:
        """Wait for the next message on ``channel``. Cancelling loses no message.

        Messages that cannot be decrypted or decoded are dropped, logged with the
        channel's name and counted; the wait goes on.
        """
        if self._closed:
            self._check_open()
        if not (isinstance(channel, str) and channel in VALID_CHANNELS):
            self.require_valid_channel_name(channel)  # raises the typed error
        local = self.local
        while True:
            # Inline hot path; a message already here needs no get_running_loop() (a getpid()).
            payload = local.get_nowait(channel) if self._ready_first else None
            if payload is None:
                loop = asyncio.get_running_loop()
                if not self._receives_locally(channel, loop):
                    payload = await self._receive(channel)
                elif isinstance(got := local.take(channel, loop), asyncio.Future):
                    try:
                        handed = await got
                    except asyncio.CancelledError:
                        local.abandon(channel, got, loop)
                        raise
                    if handed is None:
                        continue
                    payload = handed[1]
                else:
                    payload = got
            if isinstance(payload, dict):  # decoded once for many receivers: each gets its own
                return dict(payload) if type(payload) is dict else own_copy(payload)
            message = self.decode(channel, payload)
            if message is not None:
                return message

    async def new_channel(self, prefix: str = "specific.") -> str:
        """A new unique channel name, ``prefix`` + a backend part + ``!`` + random."""
        self._check_open()
        return await self._new_channel(require_channel_prefix(prefix))

    async def group_add(self, group: str, channel: str) -> None:
        """Make ``channel`` a member of ``group`` for ``group_expiry`` seconds."""
        self._check_open()
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        await self._group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        """Remove ``channel`` from ``group``; a no-op if it is not a member. A presence
        ``presence_join`` gave it through this layer object ends too."""
        self._check_open()
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        await self._group_discard(group, channel)
        if self._presence is not None:  # presence_join was used: end its presence too
            await self._end_presence(group, channel)

    async def group_send(self, group: str, message: Message) -> None:
        """Send ``message`` to every member of ``group``, encoded once.

        Members whose channel is full are skipped, counted in ``statistics()`` and logged.
        A group that keeps history (``group_options``) records it first, and its members
        receive it with its ``"position"`` (:mod:`.history`).
        """
        self._check_open()
        self.require_valid_group_name(group)
        if self._optioned:
            options = self._group_rules.get(group)
            if options is not None and options.history_size:
                await self._send_kept(group, message, options)
                return
        await self._group_send(group, self.encode(message))

    async def flush(self) -> None:
        """Delete every message and membership of this layer (only this layer's data), and
        the history and presence of its groups (a kept group begins a new epoch)."""
        self._check_open()
        await self._flush()
        if self._history is not None or self._optioned:
            await self._history_store().clear()
        if self._presence is not None:
            await self._presence.clear()

    async def aclose(self) -> None:
        """Release connections and tasks; waiting receivers get ``LayerClosedError``.

        Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        self._stop_renewing()
        await self._aclose()

    async def close(self) -> None:
        """Same as :meth:`aclose` (the name Django Channels uses)."""
        await self.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @staticmethod
    def _random_suffix() -> str:
        return secrets.token_hex(12)

    def statistics(self) -> LayerStatistics:
        """Counters and sizes of this layer in this process."""
        return self.local.statistics(self._extra_statistics(), self._gauge_statistics())

    def _announce_resync(
        self, reason: str, *, lost: int | None = None, channels: Iterable[str] | None = None
    ) -> int:
        """Tell local receivers that messages to them may have been lost; for backends.

        Puts ``{"type": "layer.reconnected", "reason": reason, "lost": lost}`` (the type is
        :attr:`resync_type`) on each of
        ``channels`` (None: every channel with a mailbox or a group membership in this
        process), past their capacity; ``lost`` is how many messages are known lost (None:
        unknown). Counted in ``statistics().resyncs`` and logged once as a warning. Returns
        how many channels were told.
        """
        notice: Message = {"type": self.resync_type, "reason": reason, "lost": lost}
        told = self.local.notify(notice, channels)
        self.local.counters.resyncs += told
        logger.warning(
            "%s: messages may have been lost (%s; lost: %s); told %d local channel(s) "
            "with a %r message",
            type(self).__name__,
            reason,
            "unknown" if lost is None else lost,
            told,
            self.resync_type,
        )
        return told

    def _extra_statistics(self) -> dict[str, int]:
        """Backend-specific counters for :attr:`LayerStatistics.extra`."""
        return {}

    def _gauge_statistics(self) -> dict[str, int]:
        """Backend-specific current sizes for :attr:`LayerStatistics.gauges`."""
        return {}

    # -- transport (backends) --------------------------------------------------------

    async def _send(self, channel: str, data: bytes) -> None:
        raise NotImplementedError(missing_method(self, "send"))

    async def _receive(self, channel: str) -> Payload:
        raise NotImplementedError(missing_method(self, "receive"))

    def _receives_locally(self, channel: str, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether ``receive(channel)`` on ``loop`` needs nothing but the local mailbox
        (no subscription to make, no reader to start, nothing to do after the wait); then
        ``receive`` waits on ``self.local`` itself instead of calling :meth:`_receive`.

        A subclass that overrides ``_receive`` without overriding this gets this default
        (False), so its ``_receive`` is called on every receive."""
        return False

    _ready_first: ClassVar[bool] = False
    """Whether ``receive`` first takes a message already in the mailbox, before it asks
    :meth:`_receives_locally` (a backend whose mailboxes only ever hold messages for its
    own channels sets it). A subclass overriding ``_receive`` or ``_receives_locally``
    gets False unless it sets it again."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        overrides = {"_receive", "_receives_locally"} & cls.__dict__.keys()
        if overrides == {"_receive"}:
            setattr(cls, "_receives_locally", BaseChannelLayer._receives_locally)  # noqa: B010
        if overrides and "_ready_first" not in cls.__dict__:
            cls._ready_first = False

    async def _new_channel(self, prefix: str) -> str:
        raise NotImplementedError(missing_method(self, "new_channel"))

    async def _group_add(self, group: str, channel: str) -> None:
        raise NotImplementedError(missing_method(self, "group_add"))

    async def _group_discard(self, group: str, channel: str) -> None:
        raise NotImplementedError(missing_method(self, "group_discard"))

    async def _group_send(self, group: str, data: bytes) -> None:
        raise NotImplementedError(missing_method(self, "group_send"))

    async def _flush(self) -> None:
        raise NotImplementedError(missing_method(self, "flush"))

    async def _aclose(self) -> None:
        """Release the backend's resources; by default a 1.x layer's own ``close()``."""
        if type(self).close is not BaseChannelLayer.close:
            await self.close()
