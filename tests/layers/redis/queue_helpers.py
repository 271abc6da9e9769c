"""Helpers for the queue layer's tests: raw Redis access and per-test prefixes."""

from __future__ import annotations

import hashlib
from typing import cast

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import parse_url

from fast_channels.layers.redis._inbox import Commands


def prefix_for(request: pytest.FixtureRequest, suffix: str = "") -> str:
    """A prefix unique to this test (and ``suffix``), stable across processes."""
    digest = hashlib.sha1(f"{request.node.nodeid}{suffix}".encode()).hexdigest()[:12]
    return f"qt{digest}"


async def raw(url: str, *command: str | bytes | int | float) -> object:
    """Run one command on the Redis at ``url`` with a throwaway client."""
    client = Redis(connection_pool=ConnectionPool(**parse_url(url)))
    try:
        return await cast(Commands, client).execute_command(*command)
    finally:
        await client.aclose(close_connection_pool=True)


async def keys(url: str, pattern: str) -> list[bytes]:
    """Every key matching ``pattern`` on the Redis at ``url``."""
    return sorted(cast(list[bytes], await raw(url, "KEYS", pattern)))


async def client_count(url: str) -> int:
    """How many clients are connected to the Redis at ``url`` (not counting ours)."""
    listing = cast(bytes, await raw(url, "CLIENT", "LIST"))
    return len(listing.strip().splitlines()) - 1
