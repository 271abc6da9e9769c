"""fast-channels 1.x's type aliases of the Redis layers (a compatibility path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

__all__ = ["ChannelDecodedRedisHost", "ChannelRawRedisHost", "SymmetricEncryptionKeys"]

ChannelRawRedisHost: TypeAlias = str | tuple[str, int] | list[str | int] | Mapping[str, Any]
"""A Redis host as the layers' ``hosts=`` takes it: a URL, ``(host, port)``, or a dict of
redis-py connection keywords (an ``"address"`` key may hold a URL). ``[host, port]`` lists
are taken by :func:`~fast_channels.layers.redis.utils.decode_hosts` only."""

ChannelDecodedRedisHost: TypeAlias = dict[str, Any]
"""A host as :func:`~fast_channels.layers.redis.utils.decode_hosts` returns it."""

SymmetricEncryptionKeys: TypeAlias = Sequence[str | bytes]
"""The layers' ``symmetric_encryption_keys=``: the first key encrypts, every key decrypts."""
