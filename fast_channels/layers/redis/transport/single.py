"""One Redis server holds every bucket (there is one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fast_channels.layers.redis.transport._link import PoolOptions
from fast_channels.layers.redis.transport.shards import ClientShards

__all__ = ["SingleNode"]


class SingleNode(ClientShards):
    """One Redis server, given as redis-py connection keywords (``host``/``port`` or
    ``path``, ``db``, ``password`` ...; ``localhost:6379`` if none)."""

    def __init__(
        self, server: Mapping[str, Any] | None = None, *, options: PoolOptions | None = None
    ) -> None:
        super().__init__([server or {"host": "localhost", "port": 6379}], options=options)
