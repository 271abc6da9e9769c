"""fast-channels 1.x's Redis helpers (a compatibility path).

The layers do not use these: they take ``hosts=`` as it is and keep their own pools
(:mod:`fast_channels.layers.redis._connection`). The helpers remain for code that called
them, with the layers' rules:

* :func:`consistent_hash` gives the shard *our* layers put a name on (CRC-32 modulo the
  number of hosts), not 1.x's (CRC-32 scaled onto 4096 slots);
* :func:`decode_hosts` refuses what the layers refuse, with a ``ConfigurationError``;
* :func:`close_redis` is :func:`~fast_channels.layers.redis._connection.close_client`.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.connection import ConnectionPool, parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers.redis._connection import RedisConnection, close_client
from fast_channels.layers.redis.type_defs import ChannelDecodedRedisHost, ChannelRawRedisHost

__all__ = ["close_redis", "consistent_hash", "create_pool", "decode_hosts"]

DEFAULT_ADDRESS = "redis://localhost:6379"

close_redis: Callable[[Redis], Awaitable[None]] = close_client
"""``await close_redis(client)``: close a redis-py asyncio client and its connection pool."""

# redis-py leaves the Sentinel constructors unannotated; these are their signatures.
_sentinel_pool: Callable[..., ConnectionPool] = SentinelConnectionPool
_sentinel: Callable[..., Sentinel] = Sentinel


def consistent_hash(value: str | bytes, ring_size: int) -> int:
    """The index, below ``ring_size``, of the host that holds ``value`` (a channel's part
    before ``!``, or a group name) when a Redis layer has ``ring_size`` hosts."""
    if isinstance(ring_size, bool) or not isinstance(ring_size, int) or ring_size < 1:
        raise ConfigurationError(f"ring_size must be a positive int, got {ring_size!r}")
    if ring_size == 1:
        return 0
    data = value.encode("utf-8") if isinstance(value, str) else value
    return zlib.crc32(data) % ring_size


def decode_hosts(hosts: Sequence[ChannelRawRedisHost] | None) -> list[ChannelDecodedRedisHost]:
    """``hosts=`` as a list of dicts: ``{"address": url}``, ``{"host": h, "port": p}``, or
    the dict given (copied). No hosts means ``redis://localhost:6379``.

    ``ConfigurationError`` for a single str instead of a list, or an entry the layers
    would refuse.
    """
    if isinstance(hosts, str | bytes):
        raise ConfigurationError(
            "hosts must be a list of Redis hosts, even for one: hosts=['redis://localhost:6379']"
        )
    entries: list[ChannelRawRedisHost] = list(hosts) if hosts else [DEFAULT_ADDRESS]
    specs: list[str | tuple[str, int] | Mapping[str, Any]] = []
    for entry in entries:
        if isinstance(entry, list):
            pair = cast(list[object], entry)
            if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], int):
                raise ConfigurationError(f"a Redis host list must be [host, port], got {entry!r}")
            specs.append((pair[0], pair[1]))
        else:
            specs.append(entry)
    RedisConnection(hosts=specs)  # refuses what the layers refuse, saying why
    decoded: list[ChannelDecodedRedisHost] = []
    for spec in specs:
        if isinstance(spec, str):
            decoded.append({"address": spec})
        elif isinstance(spec, tuple):
            decoded.append({"host": spec[0], "port": spec[1]})
        else:
            decoded.append(dict(spec))
    return decoded


def create_pool(host: Mapping[str, Any]) -> ConnectionPool:
    """A redis-py asyncio connection pool for one decoded host (see :func:`decode_hosts`).

    ``{"address": url, ...}`` is opened from the URL, ``{"master_name": ...,
    "sentinels": [(host, port), ...], "sentinel_kwargs": ...}`` through Sentinel, and any
    other dict is passed to ``ConnectionPool`` as keywords.
    """
    if not isinstance(host, Mapping):
        raise ConfigurationError(f"create_pool() takes one host dict, got {host!r}")
    options: dict[str, Any] = dict(host)
    address: object = options.pop("address", None)
    master: object = options.pop("master_name", None)
    if isinstance(address, str):
        from_url: dict[str, Any] = {**parse_url(address), **options}
        return ConnectionPool(**from_url)
    if isinstance(address, tuple):
        pair = cast(tuple[object, ...], address)
        return ConnectionPool(host=pair[0], port=pair[1], **options)
    if master is not None:
        sentinels: object = options.pop("sentinels", None)
        if not isinstance(sentinels, list | tuple):
            raise ConfigurationError(
                f"a host with master_name needs sentinels=[(host, port), ...], got {sentinels!r}"
            )
        sentinel_kwargs: object = options.pop("sentinel_kwargs", None)
        manager = _sentinel(sentinels, sentinel_kwargs=sentinel_kwargs)
        return _sentinel_pool(master, manager, **options)
    return ConnectionPool(**options)
