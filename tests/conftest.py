"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fast_channels.layers import (
    get_channel_layer,
    register_channel_layer,
    registered_aliases,
    unregister_channel_layer,
)
from tests.servers import (
    RedisCluster,
    RedisProcess,
    running_cluster,
    running_redis,
    running_sentinel,
)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisProcess]:
    """One throwaway redis-server for the session (never the shared 6379)."""
    with running_redis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server_2() -> Iterator[RedisProcess]:
    """A second throwaway redis-server, for sharding over two hosts."""
    with running_redis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisProcess]:
    """A sentinel process watching its own throwaway master as service "mymaster"."""
    with running_redis() as master, running_sentinel(master) as sentinel:
        yield sentinel


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A throwaway Redis Cluster for the session: 3 masters and 3 replicas on free ports.

    Tests may fail a master over or move slots, but leave every node running and every
    slot served when they end; which node is a master is read from the cluster, never
    assumed.
    """
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """Every test starts and ends with an empty layer registry."""
    saved = {alias: get_channel_layer(alias) for alias in registered_aliases()}
    for alias in saved:
        unregister_channel_layer(alias)
    yield
    for alias in registered_aliases():
        unregister_channel_layer(alias)
    for alias, layer in saved.items():
        register_channel_layer(alias, layer)
