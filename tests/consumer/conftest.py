"""A fresh in-memory layer registered as "default" for consumer tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fast_channels.layers import InMemoryChannelLayer, register_channel_layer


@pytest.fixture
async def memory_layer() -> AsyncIterator[InMemoryChannelLayer]:
    """Registered as "default"; closed after the test (the registry is reset by conftest)."""
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    yield layer
    await layer.aclose()
