"""What the two Redis layers share: their options, their key prefix and their connection.

:class:`RedisLayerBase` takes the options of :class:`RedisLayerOptions` (keyword-only),
checks them once and hands them on: the message rules (capacity, expiry, size,
encryption) to :class:`~fast_channels.layers.base.BaseChannelLayer`, the connection
options to :class:`~._connection.RedisConnection` (which reads ``hosts=`` with
:func:`~._hosts.read_hosts`). Each layer adds only its own options (``receive_batch``,
``overflow``) and its transport. What a layer keeps per event loop is in :mod:`._loop`.

``wire_format`` picks the transport once, at construction: ``"fast_channels"`` (the
default) is the layer's own; ``"channels_redis"`` makes the layer object, first thing in
``__init__``, an instance of the subclass of its class that speaks channels_redis 4.x's
format (:mod:`._channels_redis`), much as ``pathlib.Path()`` gives a ``PosixPath``: the
layer's own methods run with no test of the format on any call. The other options
channels_redis users write (``serializer_format``, ``random_prefix_length``,
``on_reconnect``) are read here, with the meaning they have there; ``on_disconnect`` is
refused, saying what to use instead.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Self, TypedDict, Unpack, cast

from fast_channels.exceptions import ConfigurationError, UnknownOptionError
from fast_channels.layers._options import keyword_options, unknown_option
from fast_channels.layers.base import BaseChannelLayer, logger
from fast_channels.layers.group_options import GroupOptionsMap
from fast_channels.layers.history import HistoryStore
from fast_channels.layers.names import is_server_event_type
from fast_channels.layers.presence import PresenceStore
from fast_channels.layers.redis._connection import RedisConnection
from fast_channels.layers.redis._history import Delivery, RedisHistory
from fast_channels.layers.redis._hosts import HostSpec
from fast_channels.layers.redis._pipe import CommandPipe
from fast_channels.layers.redis._presence import RedisPresence

__all__ = ["RedisLayerBase", "RedisLayerOptions", "WireFormat", "require_prefix"]

WireFormat = Literal["fast_channels", "channels_redis"]
"""How a Redis layer lays its data out in Redis: its own format, or channels_redis 4.x's."""
WIRE_FORMATS: tuple[WireFormat, ...] = ("fast_channels", "channels_redis")

_PREFIX = re.compile(r"[a-zA-Z\d\-_.]{1,50}", re.ASCII)


def require_prefix(prefix: object) -> str:
    """``prefix`` if it is a valid key prefix for a Redis layer, else ConfigurationError."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"prefix must be 1 to 50 ASCII letters, digits, '-', '_' or '.', got {prefix!r}"
        )
    return prefix


class _MessageOptions(TypedDict, total=False):
    """The options every channel layer takes (``BaseChannelLayer.__init__``)."""

    expiry: float
    """Seconds a message waits for its receiver before it is dropped (default 60)."""
    group_expiry: float
    """Seconds a group membership lasts after its last ``group_add`` (default 86400)."""
    capacity: int
    """Messages a channel holds before it is full (default 100)."""
    channel_capacity: Mapping[str | re.Pattern[str], int] | None
    """Other capacities by channel name: glob strings or compiled regexes; the first match wins."""
    symmetric_encryption_keys: Sequence[str | bytes] | None
    """Encrypt messages (``fast-channels[crypto]``): the first key encrypts, every key decrypts."""
    max_message_size: int
    """Largest encoded message in bytes (default 1 MiB); a bigger one raises
    ``MessageTooLargeError``."""
    group_options: GroupOptionsMap | None
    """History and presence events by group name pattern (see ``GroupOptions``)."""
    presence_lease: float
    """Seconds a process's present members outlive its last renewal (default 10)."""


class _ConnectionOptions(TypedDict, total=False):
    """The options of :class:`~._connection.RedisConnection`: where Redis is, and pools."""

    hosts: Sequence[HostSpec] | None
    """Redis servers: URLs (``redis://``, ``rediss://``, ``unix://``), ``(host, port)``
    tuples or dicts of redis-py connection keywords; several hosts shard channels and
    groups by a stable hash of their name (default ``["redis://localhost:6379"]``)."""
    sentinels: Sequence[tuple[str, int]] | None
    """Reach the master named ``service_name`` through these Redis Sentinels instead of
    ``hosts`` (giving both is a ``ConfigurationError``)."""
    service_name: str | None
    """The master the sentinels monitor (required with ``sentinels``)."""
    sentinel_kwargs: Mapping[str, Any] | None
    """redis-py keywords for the connections to the sentinels (e.g. their password)."""
    connection_kwargs: Mapping[str, Any] | None
    """Extra redis-py keywords for the connections to Redis (password, TLS, ...)."""
    max_connections: int
    """Connections per host and event loop (default 64; at least 2 for pub/sub, 3 for the
    queue layer: see ``min_connections``); a burst waits for a free one."""
    pool_timeout: float
    """Seconds a command waits for a free connection before it fails (default 10)."""
    socket_timeout: float
    """Seconds to connect, or to get a reply, before a call raises
    ``LayerConnectionError`` (default 5)."""


class _ChannelsRedisOptions(TypedDict, total=False):
    """Options named as channels_redis names them (``CHANNEL_LAYERS[...]["CONFIG"]``)."""

    wire_format: WireFormat
    """``"fast_channels"`` (default): the layer's own keys and payloads, the fastest.
    ``"channels_redis"``: channels_redis 4.x's keys, payloads, group keys and pub/sub
    channel names, so that Django Channels processes and this layer share channels and
    groups through one Redis while a project migrates (see :mod:`._channels_redis`)."""
    serializer_format: Literal["msgpack", "json"]
    """How messages are encoded: ``"msgpack"`` (the default, and the only encoding of
    the ``"fast_channels"`` wire format); ``"json"`` with ``wire_format="channels_redis"``,
    to share Redis with Channels processes configured with it."""
    random_prefix_length: int
    """With ``wire_format="channels_redis"``, queue layer only: the random bytes before
    each stored message (default 12); it must equal the Channels processes' setting."""
    on_reconnect: str
    """The ``type`` of the notice a consumer gets when messages to it may have been lost
    (Redis restarted or lost its data, a subscriber reconnected); default
    ``"layer.reconnected"``, handled by ``layer_reconnected``. With
    ``on_reconnect="redis.reconnect"`` the handler is ``redis_reconnect``, as in
    channels_redis."""


class RedisLayerOptions(_MessageOptions, _ConnectionOptions, _ChannelsRedisOptions, total=False):
    """The keyword-only options both Redis layers take; an unknown one is a ``TypeError``."""

    prefix: str
    """Namespace of the layer's Redis keys and channels: 1 to 50 ASCII letters, digits,
    ``-``, ``_`` or ``.`` (default ``"asgi"``). Every process must use the same one."""


_KNOWN = RedisLayerOptions.__optional_keys__
_REFUSED = {
    "on_disconnect": (
        "channels_redis's on_disconnect has no counterpart: a consumer is told once the "
        "connection is back, with a message of type on_reconnect (default "
        "'layer.reconnected', handled by layer_reconnected); remove on_disconnect and "
        "handle that message"
    ),
    "channel_layer": "it is channels_redis's internal argument; remove it",
}
_LAYERS: weakref.WeakSet[RedisLayerBase] = weakref.WeakSet()
_PARENTS: list[tuple[object, ...]] = []  # see RedisLayerBase._keep_parents


def _picked(options: Mapping[str, object], keys: frozenset[str]) -> dict[str, object]:
    return {key: value for key, value in options.items() if key in keys}


class RedisLayerBase(BaseChannelLayer):
    """A channel layer on Redis: the options of :class:`RedisLayerOptions`, checked once.

    ``prefix`` is the validated key prefix, ``connection`` the
    :class:`~._connection.RedisConnection` built from the connection options.
    """

    wire_format: ClassVar[WireFormat] = "fast_channels"
    """How this layer lays its data out in Redis (the ``wire_format`` option)."""
    _connection_class: ClassVar[type[RedisConnection]] = RedisConnection

    def __init__(self, **options: Unpack[RedisLayerOptions]) -> None:
        unknown = [name for name in options if name not in _KNOWN]
        for name in unknown:
            if name in _REFUSED:
                raise UnknownOptionError(
                    f"{type(self).__name__}() does not take {name}=: {_REFUSED[name]}"
                )
        if unknown:
            known = _KNOWN | keyword_options(type(self))
            raise unknown_option(type(self), unknown, known)
        wire_format = options.get("wire_format", "fast_channels")
        if wire_format not in WIRE_FORMATS:
            raise ConfigurationError(
                f"wire_format must be 'fast_channels' (the default) or 'channels_redis' (to "
                f"share Redis with Django Channels processes), got {wire_format!r}"
            )
        if wire_format != type(self).wire_format:
            # Chosen once, here: from now on the object is of the subclass of its class
            # that speaks that format (and the rest of __init__ runs its methods).
            from fast_channels.layers.redis._channels_redis import channels_redis_class

            self.__class__ = cast("type[Self]", channels_redis_class(type(self), wire_format))
        message = _picked(options, _MessageOptions.__optional_keys__)
        super().__init__(**cast(dict[str, Any], message))  # checked above: no unknown key
        self.prefix: str = require_prefix(options.get("prefix", "asgi"))
        if self.wire_format == "channels_redis" and self._optioned:
            raise ConfigurationError(
                f"{type(self).__name__}: group_options (history, presence events) need the "
                "layer's own wire format, which channels_redis's has no room for: remove "
                "group_options, or wire_format='channels_redis' once the Channels processes "
                "are gone"
            )
        self._read_channels_redis_options(options)
        connection = _picked(options, _ConnectionOptions.__optional_keys__)
        self.connection: RedisConnection = self._connection_class(
            **cast(_ConnectionOptions, connection)
        )
        least = type(self).min_connections
        if self.connection.max_connections < least:
            raise ConfigurationError(
                f"max_connections must be at least {least} for {type(self).__name__} "
                f"({type(self)._min_connections_why}); got {self.connection.max_connections}"
            )

    def _read_channels_redis_options(self, options: Mapping[str, object]) -> None:
        """``serializer_format``, ``random_prefix_length``, ``on_reconnect``: checked here,
        used by the ``"channels_redis"`` wire format (which overrides this to keep them)."""
        name = type(self).__name__
        fmt = options.get("serializer_format", "msgpack")
        if fmt != "msgpack":
            if fmt == "json":
                raise ConfigurationError(
                    f"{name}: serializer_format='json' is for wire_format='channels_redis' "
                    "(sharing Redis with Channels processes that use JSON); the layer's own "
                    "format is always msgpack: remove serializer_format"
                )
            raise ConfigurationError(
                f"{name}: serializer_format must be 'msgpack' (or 'json' with "
                f"wire_format='channels_redis'), got {fmt!r}; custom serializers from "
                "channels_redis's registry have no counterpart"
            )
        if "random_prefix_length" in options:
            raise ConfigurationError(
                f"{name}: random_prefix_length is part of channels_redis's queue format; the "
                "layer's own format needs none: remove it (or use wire_format="
                "'channels_redis' with RedisChannelLayer, to share Redis with Channels)"
            )
        self._read_on_reconnect(options)

    def _read_on_reconnect(self, options: Mapping[str, object]) -> None:
        """``on_reconnect``: the type of the layer's resync notices (``resync_type``)."""
        on_reconnect = options.get("on_reconnect")
        if on_reconnect is not None:
            if not isinstance(on_reconnect, str) or not on_reconnect:
                raise ConfigurationError(
                    f"on_reconnect must name a message type, e.g. 'redis.reconnect' (handled "
                    f"by redis_reconnect), got {on_reconnect!r}"
                )
            if is_server_event_type(on_reconnect):
                raise ConfigurationError(
                    f"on_reconnect={on_reconnect!r} would pass for an event of the ASGI "
                    "protocol; name it after your app, e.g. 'redis.reconnect'"
                )
            self.resync_type = on_reconnect

    async def close_pools(self) -> None:
        """Close the layer's Redis connections of the running event loop and stop its
        tasks there (readers, subscribers); the layer stays usable, and its next call on
        this loop connects again (channels_redis's name, which tests and shutdown code
        call). Call it when no ``receive()`` waits on this loop: one that waits is not
        woken. :meth:`aclose` ends the layer for good instead."""
        await self._close_pools()

    async def _close_pools(self) -> None:
        """What :meth:`close_pools` closes: each layer's part for the running loop."""

    min_connections: ClassVar[int] = 2
    """The smallest ``max_connections`` the layer works with."""
    _min_connections_why: ClassVar[str] = "its subscriber and its command pipe keep one each"
    _fork_hooked: ClassVar[bool] = False

    def _track_forks(self) -> None:
        """Called last in a layer's ``__init__``: from now on a fork renews it."""
        if not RedisLayerBase._fork_hooked:
            RedisLayerBase._fork_hooked = True
            os.register_at_fork(after_in_child=RedisLayerBase._after_fork)
        _LAYERS.add(self)

    @staticmethod
    def _after_fork() -> None:
        """In a forked child (Celery's prefork pool, ``multiprocessing`` with fork): every
        Redis layer of the process starts afresh (:meth:`_forked`)."""
        for layer in list(_LAYERS):
            try:
                layer._forked()
            except Exception:  # one layer must not keep the others on the parent's state
                logger.exception("renewing a %s in a forked child failed", type(layer).__name__)

    def _forked(self) -> None:
        """Let go of what belongs to the parent process: its local core (mailboxes, the
        waiters of its loops, a lock another thread may have held at the fork) and, in
        each layer, its event loops' connections, tasks and process-local names."""
        self._renew_core()
        self._keep_parents(self.connection.forget_pools())

    # -- history and presence (opt-in; see fast_channels.layers.history / .presence) ----

    def _loop_pipes(self) -> list[CommandPipe]:
        """The running event loop's command pipe per host (each layer keeps its own)."""
        raise NotImplementedError

    def _group_delivery(self) -> Delivery:
        """How this layer delivers one group message, for kept messages (each layer's own)."""
        raise NotImplementedError

    def _new_history_store(self) -> HistoryStore:
        return RedisHistory(
            connection=self.connection,
            prefix=self.prefix,
            pipes=self._loop_pipes,
            delivery=self._group_delivery(),
            local=self.local,
            group_expiry=self.group_expiry,
        )

    def _new_presence_store(self) -> PresenceStore:
        if self.wire_format == "channels_redis":
            raise ConfigurationError(
                f"{type(self).__name__}: presence needs the layer's own wire format; with "
                "wire_format='channels_redis' use group_add() and keep who is present "
                "yourself until the Channels processes are gone"
            )
        return RedisPresence(
            connection=self.connection,
            prefix=self.prefix,
            pipes=self._loop_pipes,
            lease=self.presence_lease,
        )

    @staticmethod
    def _keep_parents(*objects: object) -> None:
        """Keep the parent's per-loop objects referenced in the child, never collected:
        collecting their tasks (of the parent's loops) would run their cleanup here."""
        _PARENTS.append(objects)
