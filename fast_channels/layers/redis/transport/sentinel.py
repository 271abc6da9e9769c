"""The master that Redis Sentinels name, followed across failovers.

One bucket, on whichever server the sentinels name as the master of ``service_name``:
every new connection asks them (redis-py's ``SentinelConnectionPool``), so after a
failover the broken connections are replaced by connections to the new master. What the
old master held and the new one lacks is the layers' business (they leave markers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from redis.asyncio.connection import BlockingConnectionPool, ConnectionPool
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers.redis._connection import OutageLog
from fast_channels.layers.redis._pipe import Script
from fast_channels.layers.redis.transport._link import FixedLink, PoolOptions
from fast_channels.layers.redis.transport.base import Placement

__all__ = ["SentinelTransport"]


class _SentinelBlockingPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel-managed pool that waits for a free connection instead of failing."""


# redis-py leaves the Sentinel constructors unannotated; these are their signatures.
_sentinel_pool: Callable[..., ConnectionPool] = _SentinelBlockingPool
_sentinel: Callable[..., Sentinel] = Sentinel


class SentinelTransport:
    """The master named ``service_name`` by the sentinels at ``sentinels`` ((host, port)
    pairs); ``sentinel_kwargs`` are redis-py keywords for the connections to the sentinels
    (their password ...), ``options`` those to the master."""

    def __init__(
        self,
        sentinels: Sequence[tuple[str, int]],
        service_name: str,
        *,
        sentinel_kwargs: Mapping[str, Any] | None = None,
        options: PoolOptions | None = None,
    ) -> None:
        if not sentinels or not service_name:
            raise ConfigurationError(
                "a Sentinel transport needs sentinels=[(host, port), ...] and the "
                "service_name of the master they monitor, e.g. 'mymaster'"
            )
        self.sentinels: list[tuple[str, int]] = list(sentinels)
        self.service_name: str = service_name
        self.sentinel_kwargs: dict[str, Any] = dict(sentinel_kwargs or {})
        self.options: PoolOptions = options or PoolOptions()
        self.placement: Placement = Placement(1, ("",))
        self.outages: OutageLog = OutageLog(self.describe())
        """Where every link reports failures to reach Redis (logged at a bounded rate)."""

    def describe(self) -> str:
        """The service and its sentinels."""
        return f"Sentinel service {self.service_name!r} via {self.sentinels}"

    def link(self, *, scripts: Sequence[Script] = (), limits: bool = False) -> FixedLink:
        """This event loop's connections: a pool that asks the sentinels for the master."""
        timeouts = {
            "socket_timeout": self.options.socket_timeout,
            "socket_connect_timeout": self.options.socket_timeout,
        }
        manager = _sentinel(self.sentinels, sentinel_kwargs={**timeouts, **self.sentinel_kwargs})
        kwargs = self.options.pool_kwargs({})
        pool = _sentinel_pool(self.service_name, manager, **kwargs)
        return _SentinelLink(
            self.placement,
            [(self.describe(), pool)],
            manager,
            scripts=scripts,
            limits=limits,
            outages=self.outages,
            options=self.options,
        )


class _SentinelLink(FixedLink):
    """A fixed link that also closes its connections to the sentinels."""

    def __init__(
        self,
        placement: Placement,
        pools: Sequence[tuple[str, ConnectionPool]],
        manager: Sentinel,
        *,
        scripts: Sequence[Script],
        limits: bool,
        outages: OutageLog,
        options: PoolOptions,
    ) -> None:
        super().__init__(
            placement, pools, scripts=scripts, limits=limits, outages=outages, options=options
        )
        self._manager = manager

    async def aclose(self) -> None:
        """Close the master's connections, then the sentinels'."""
        try:
            await super().aclose()
        finally:
            for sentinel in cast(list[Any], self._manager.sentinels):
                await sentinel.aclose(close_connection_pool=True)
