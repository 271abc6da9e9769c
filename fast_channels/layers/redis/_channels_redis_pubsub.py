"""The pub/sub layer in channels_redis 4.x's format:
``RedisPubSubChannelLayer(wire_format="channels_redis")``.

Only the names and the payloads differ from the layer's own format (see
:mod:`._channels_redis`): a channel is the Redis pub/sub channel of its own name, a group
``<prefix>__group__<group>``, and a message is published as channels_redis encodes it,
with nothing around it. Subscriptions, reconnection, resync notices, capacity and overflow
are the layer's own (:mod:`.pubsub`), and so are the names ``new_channel()`` makes
(``specific.<inbox>!<random>``: channels_redis's own start with its prefix and have no
``!``; either kind is just a name to the other side). Each ``new_channel()`` costs a
``SUBSCRIBE`` of its own (the layer's own format shares one per process), and pub/sub
channel names are not kept apart by database number (channels_redis does not either:
give layers on different databases of one server different prefixes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers.redis._channels_redis import ChannelsRedisCodec, SlotShardedConnection
from fast_channels.layers.redis.pubsub import RedisPubSubChannelLayer

__all__ = ["ChannelsRedisPubSubLayer"]


class ChannelsRedisPubSubLayer(RedisPubSubChannelLayer):
    """:class:`RedisPubSubChannelLayer` speaking channels_redis 4.x's format (see the
    module); made by ``RedisPubSubChannelLayer(..., wire_format="channels_redis")``.

    Takes the options of :class:`RedisPubSubChannelLayer`, plus ``serializer_format``
    (``"msgpack"`` or ``"json"``), which must match the Channels processes' setting, as
    must ``prefix``, ``hosts`` (same servers, same order) and
    ``symmetric_encryption_keys``.
    """

    wire_format = "channels_redis"
    _connection_class = SlotShardedConnection

    def _read_channels_redis_options(self, options: Mapping[str, object]) -> None:
        self._read_on_reconnect(options)
        if "random_prefix_length" in options:
            raise ConfigurationError(
                "random_prefix_length is part of channels_redis's queue format; its pub/sub "
                "layer stores nothing and uses none: remove it"
            )
        fmt = options.get("serializer_format", "msgpack")
        if fmt not in ("msgpack", "json"):
            raise ConfigurationError(
                f"serializer_format must be 'msgpack' (the default) or 'json', got {fmt!r}; "
                "custom serializers from channels_redis's registry have no counterpart"
            )
        keys = options.get("symmetric_encryption_keys")
        self.serializer = ChannelsRedisCodec(
            serializer_format="json" if fmt == "json" else "msgpack",
            keys=cast("list[str | bytes] | None", keys),
        )

    def _key(self, kind: str, name: str) -> bytes:
        if kind == "g":
            return f"{self.prefix}__group__{name}".encode()
        return name.encode()

    def _shard(self, key: bytes) -> int:
        return self.connection.shard_for(key.decode())

    async def _send(self, channel: str, data: bytes) -> None:
        key = channel.encode()
        if not await self._publish(self._shard(key), key, data):
            self._unheard += 1
        self.local.counters.sent += 1

    async def _group_send(self, group: str, data: bytes) -> None:
        key = self._key("g", group)
        if not await self._publish(self._shard(key), key, data):
            self._unheard += 1
        self.local.counters.group_sends += 1

    async def _new_channel(self, prefix: str) -> str:
        channel = f"{prefix}{self._inbox}!{self._random_suffix()}"
        await self._subscribe(*self._channel_target(channel))
        return channel

    def _channel_target(self, channel: str) -> tuple[bytes, tuple[bool, str, int]]:
        key = channel.encode()
        return key, (False, channel, self._shard(key))

    def _group_target(self, group: str) -> tuple[bytes, tuple[bool, str, int]]:
        key = self._key("g", group)
        return key, (True, group, self._shard(key))

    def _dispatch(self, key: bytes, data: bytes) -> None:
        target = self._targets.get(key)
        if target is None:
            return
        if target[0]:  # a group: as the layer's own format
            super()._dispatch(key, data)
        elif not self.local.put_nowait(target[1], data):
            self.local.counters.dropped_overflow += 1
            self._warn(
                "pub/sub: a full mailbox (%s) dropped a message for %r; "
                "its receiver is not keeping up (raise capacity= or consume faster)",
                self.overflow.value,
                target[1],
            )
