"""Client-side shards: several independent Redis servers, each holding some buckets.

Bucket ``i`` lives on server ``i``: a name is placed by CRC-32 of its part before ``!``
modulo the number of servers, exactly as the Redis layers have always sharded (so a
rolling upgrade finds every channel and group where the old version put it). Every
process must list the same servers in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio.connection import BlockingConnectionPool

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers.redis._connection import OutageLog
from fast_channels.layers.redis._pipe import Script
from fast_channels.layers.redis.transport._link import FixedLink, PoolOptions, describe_server
from fast_channels.layers.redis.transport.base import Placement

__all__ = ["ClientShards"]


class ClientShards:
    """Redis servers sharded by the client: ``servers`` are redis-py connection keywords
    (``host``/``port``, or ``path`` for a Unix socket, ``db``, ``password`` ...)."""

    def __init__(
        self, servers: Sequence[Mapping[str, Any]], *, options: PoolOptions | None = None
    ) -> None:
        if isinstance(servers, Mapping) or not servers:
            raise ConfigurationError(
                "a sharded transport needs a list of one or more Redis servers, e.g. "
                "[{'host': 'localhost', 'port': 6379}]"
            )
        self.servers: list[dict[str, Any]] = [dict(server) for server in servers]
        self.options: PoolOptions = options or PoolOptions()
        self.placement: Placement = Placement(len(self.servers), ("",) * len(self.servers))
        self.outages: OutageLog = OutageLog(self.describe())
        """Where every link reports failures to reach Redis (logged at a bounded rate)."""

    def describe(self) -> str:
        """The servers, in bucket order; no passwords."""
        return ", ".join(describe_server(server) for server in self.servers)

    def link(self, *, scripts: Sequence[Script] = (), limits: bool = False) -> FixedLink:
        """This event loop's connections: one bounded pool and pipe per server."""
        pools = [
            (describe_server(server), BlockingConnectionPool(**self.options.pool_kwargs(server)))
            for server in self.servers
        ]
        return FixedLink(
            self.placement,
            pools,
            scripts=scripts,
            limits=limits,
            outages=self.outages,
            options=self.options,
        )
