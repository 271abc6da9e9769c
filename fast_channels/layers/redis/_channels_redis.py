"""channels_redis 4.x's wire format: what ``wire_format="channels_redis"`` writes and reads.

A layer built with ``wire_format="channels_redis"`` shares channels and groups with Django
Channels processes using channels_redis 4.x on the same Redis (same ``hosts``, ``prefix``,
``symmetric_encryption_keys`` and ``serializer_format``), so a project can move its
processes over one at a time. The format, as channels_redis 4.3 writes it:

**Messages** (both layers): the message dict encoded with msgpack (or JSON with
``serializer_format="json"``), then, with ``symmetric_encryption_keys``, a Fernet token
under the SHA-256 of each key (the first encrypts; the same as this package's own
encryption). The queue layer puts ``random_prefix_length`` random bytes (12) before it,
so that equal messages stay distinct members of a sorted set.

**Queue layer** (``channels_redis.core.RedisChannelLayer``):

* a named channel ``name`` is the sorted set ``<prefix><name>``; the channels
  ``<head>!<local>`` that one process made share the sorted set ``<prefix><head>!``, and a
  message to one of them carries its channel under ``"__asgi_channel__"`` (a list of
  channels, for a group message). Score: the time it was sent (seconds since the epoch);
  the set expires ``expiry`` seconds after its last message, and sends remove members
  older than that. Capacity is the size of the set, so the ``!`` channels of one process
  share one count;
* a group is the sorted set ``<prefix>:group:<group>`` of its channels, scored by the time
  each was added, expiring ``group_expiry`` after the last ``group_add``;
* receivers pop the lowest score first (``BZPOPMIN``).

**Pub/sub layer** (``channels_redis.pubsub.RedisPubSubChannelLayer``): a channel is the
Redis pub/sub channel of the same name (no prefix; channels_redis's ``new_channel()``
names are ``<prefix><prefix argument><32 hex digits>``), a group the pub/sub channel
``<prefix>__group__<group>``; a message is published as its encoded bytes.

**Several hosts**: a name's host is its CRC-32's low 12 bits scaled onto the hosts
(:func:`slot_shard`), computed on the group name (queue groups), on the part of a channel
up to ``!`` (queue channels) and on the pub/sub channel's name (pub/sub layer). Named
channels of the queue layer are received from every host: channels_redis spreads its
direct sends to them over the hosts.
"""

from __future__ import annotations

import json
import secrets
import zlib
from collections.abc import Sequence
from typing import Literal, cast

from fast_channels.exceptions import (
    ConfigurationError,
    InvalidMessageError,
    UnserializableMessageError,
)
from fast_channels.layers.redis._connection import RedisConnection
from fast_channels.serialization import EncryptedSerializer, MsgpackSerializer, Serializer
from fast_channels.types import Message

__all__ = [
    "CHANNEL_KEY",
    "ChannelsRedisCodec",
    "JsonSerializer",
    "SlotShardedConnection",
    "channels_redis_class",
    "slot_shard",
]

CHANNEL_KEY = "__asgi_channel__"
"""The message key naming the channel(s) a queue message is for, in a shared sorted set."""

SLOTS = 4096


def slot_shard(name: str, count: int) -> int:
    """The host, of ``count``, that channels_redis 4.x puts ``name`` on."""
    if count == 1:
        return 0
    return (zlib.crc32(name.encode("utf-8")) & (SLOTS - 1)) * count // SLOTS


class SlotShardedConnection(RedisConnection):
    """A :class:`RedisConnection` whose :meth:`shard_for` places names as channels_redis
    4.x does (:func:`slot_shard` of exactly the name given)."""

    def shard_for(self, name: str) -> int:
        """The host that holds ``name`` (a key's name, as channels_redis hashes it)."""
        return slot_shard(name, self.shard_count)


class JsonSerializer:
    """JSON encoding, as channels_redis's ``serializer_format="json"``: messages hold
    only JSON's types (no ``bytes``; tuples arrive as lists)."""

    def dumps(self, message: Message) -> bytes:
        """Encode ``message``, naming what JSON cannot hold."""
        try:
            return json.dumps(message).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise UnserializableMessageError(
                f"message of type {message.get('type')!r} cannot be serialized as JSON "
                f"({exc}); with serializer_format='json' messages hold only None, bool, "
                "numbers, str, and lists and dicts of those"
            ) from exc

    def loads(self, data: bytes) -> Message:
        """Decode bytes made by :meth:`dumps`."""
        try:
            value: object = json.loads(data)
        except ValueError as exc:
            raise InvalidMessageError(f"received bytes are not a JSON message: {exc}") from exc
        if not isinstance(value, dict):
            raise InvalidMessageError(
                f"received JSON decodes to {type(value).__name__}, not a message dict"
            )
        return cast(Message, value)


class ChannelsRedisCodec:
    """channels_redis's message bytes: ``random_prefix_length`` random bytes, then the
    message in msgpack or JSON, encrypted with ``keys`` if given."""

    def __init__(
        self,
        *,
        serializer_format: Literal["msgpack", "json"] = "msgpack",
        keys: Sequence[str | bytes] | None = None,
        random_prefix_length: int = 0,
    ) -> None:
        if serializer_format not in ("msgpack", "json"):
            raise ConfigurationError(
                "serializer_format must be 'msgpack' (the default) or 'json'; custom "
                f"serializers from channels_redis's registry have no counterpart, got "
                f"{serializer_format!r}"
            )
        length: object = random_prefix_length
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ConfigurationError(
                f"random_prefix_length must be an int >= 0 (channels_redis's default is 12), "
                f"got {random_prefix_length!r}"
            )
        inner: Serializer = (
            MsgpackSerializer() if serializer_format == "msgpack" else JsonSerializer()
        )
        if keys is not None:
            if isinstance(keys, str | bytes):
                raise ConfigurationError(
                    "symmetric_encryption_keys must be a list of keys, not a single "
                    "str/bytes; write symmetric_encryption_keys=[key]"
                )
            inner = EncryptedSerializer(inner, list(keys))
        self._inner = inner
        self.random_prefix_length: int = random_prefix_length

    def dumps(self, message: Message) -> bytes:
        """The bytes channels_redis stores or publishes for ``message``."""
        data = self._inner.dumps(message)
        if self.random_prefix_length:
            return secrets.token_bytes(self.random_prefix_length) + data
        return data

    def loads(self, data: bytes) -> Message:
        """The message in bytes written by channels_redis (or :meth:`dumps`)."""
        return self._inner.loads(data[self.random_prefix_length :])


def channels_redis_class(cls: type, wire_format: str) -> type:
    """The subclass of layer class ``cls`` that speaks ``wire_format``: channels_redis's
    (``cls`` of the layer's own format), or the layer's own (``cls`` of channels_redis's)."""
    from fast_channels.layers.redis._channels_redis_pubsub import ChannelsRedisPubSubLayer
    from fast_channels.layers.redis._channels_redis_queue import ChannelsRedisQueueLayer
    from fast_channels.layers.redis.pubsub import RedisPubSubChannelLayer
    from fast_channels.layers.redis.queue import RedisChannelLayer

    pairs = [
        (RedisChannelLayer, ChannelsRedisQueueLayer),
        (RedisPubSubChannelLayer, ChannelsRedisPubSubLayer),
    ]
    for native, wire in pairs:
        if cls is (native if wire_format == "channels_redis" else wire):
            return wire if wire_format == "channels_redis" else native
    raise ConfigurationError(
        f"wire_format={wire_format!r} is an option of RedisChannelLayer and "
        f"RedisPubSubChannelLayer themselves; {cls.__name__} cannot switch its wire format: "
        "construct one of those two"
    )
