"""What the two Redis layers share: their options, their key prefix and their connection.

:class:`RedisLayerBase` takes the options of :class:`RedisLayerOptions` (keyword-only),
checks them once and hands them on: the message rules (capacity, expiry, size,
encryption) to :class:`~fast_channels.layers.base.BaseChannelLayer`, the connection
options to :class:`~._connection.RedisConnection`. Each layer adds only its own options
(``receive_batch``, ``overflow``) and its transport. What a layer keeps per event loop is
in :mod:`._loop`.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypedDict, Unpack, cast

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers._options import keyword_options, unknown_option
from fast_channels.layers.base import BaseChannelLayer, logger
from fast_channels.layers.redis._connection import RedisConnection
from fast_channels.layers.redis._hosts import HostSpec

__all__ = ["RedisLayerBase", "RedisLayerOptions", "require_prefix"]

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


class RedisLayerOptions(_MessageOptions, _ConnectionOptions, total=False):
    """The keyword-only options both Redis layers take; an unknown one is a ``TypeError``."""

    prefix: str
    """Namespace of the layer's Redis keys and channels: 1 to 50 ASCII letters, digits,
    ``-``, ``_`` or ``.`` (default ``"asgi"``). Every process must use the same one."""


_KNOWN = RedisLayerOptions.__optional_keys__
_LAYERS: weakref.WeakSet[RedisLayerBase] = weakref.WeakSet()
_PARENTS: list[tuple[object, ...]] = []  # see RedisLayerBase._keep_parents


def _picked(options: Mapping[str, object], keys: frozenset[str]) -> dict[str, object]:
    return {key: value for key, value in options.items() if key in keys}


class RedisLayerBase(BaseChannelLayer):
    """A channel layer on Redis: the options of :class:`RedisLayerOptions`, checked once.

    ``prefix`` is the validated key prefix, ``connection`` the
    :class:`~._connection.RedisConnection` built from the connection options.
    """

    def __init__(self, **options: Unpack[RedisLayerOptions]) -> None:
        unknown = [name for name in options if name not in _KNOWN]
        if unknown:
            known = _KNOWN | keyword_options(type(self))
            raise unknown_option(type(self), unknown, known)
        message = _picked(options, _MessageOptions.__optional_keys__)
        super().__init__(**cast(dict[str, Any], message))  # checked above: no unknown key
        self.prefix: str = require_prefix(options.get("prefix", "asgi"))
        connection = _picked(options, _ConnectionOptions.__optional_keys__)
        self.connection: RedisConnection = RedisConnection(**cast(_ConnectionOptions, connection))
        least = type(self).min_connections
        if self.connection.max_connections < least:
            raise ConfigurationError(
                f"max_connections must be at least {least} for {type(self).__name__} "
                f"({type(self)._min_connections_why}); got {self.connection.max_connections}"
            )

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

    @staticmethod
    def _keep_parents(*objects: object) -> None:
        """Keep the parent's per-loop objects referenced in the child, never collected:
        collecting their tasks (of the parent's loops) would run their cleanup here."""
        _PARENTS.append(objects)
