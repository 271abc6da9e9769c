"""Which channel layer the demo runs on: Redis when ``REDIS_URL`` is set, else in-memory."""

from __future__ import annotations

import os

from fast_channels.layers import ChannelLayer, InMemoryChannelLayer
from fast_channels.layers.redis import RedisChannelLayer

__all__ = ["layer_name", "make_layer", "redis_url"]


def redis_url() -> str | None:
    """The ``REDIS_URL`` environment variable, or None when it is unset or empty."""
    return os.environ.get("REDIS_URL") or None


def make_layer(url: str | None) -> ChannelLayer:
    """A Redis queue layer on ``url`` (shared by every process), or an in-memory layer."""
    if url is None:
        return InMemoryChannelLayer()
    return RedisChannelLayer(hosts=[url])


def layer_name(url: str | None) -> str:
    """How the page names the layer in use."""
    return "in-memory" if url is None else "redis"
