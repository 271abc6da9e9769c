"""Fixtures of the Redis layers' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import RedisProcess, start_redis


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    """A redis-server of this test only, keeping nothing on disk (a restart empties it);
    it may be paused, restarted or flushed."""
    server = start_redis()
    try:
        yield server
    finally:
        server.resume()
        server.stop()
