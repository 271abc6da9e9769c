"""``layers.py``: register a Redis queue layer as the default layer, once per process.

``REDIS_URL`` names the Redis server (``redis://localhost:6379`` if unset). Building the
layer does not connect; the first send or receive does.
"""

# layers.py
import os

from fast_channels.layers import (
    InMemoryChannelLayer,
    has_layers,
    register_channel_layer,
)
from fast_channels.layers.redis import RedisChannelLayer

# InMemoryChannelLayer is for the commented-out line at the end.
__all__ = ["InMemoryChannelLayer", "setup_channel_layers"]


def setup_channel_layers() -> None:
    """Set up and register channel layers for the application."""
    # Prevent duplicate registration
    if has_layers():
        return
    redis_url = os.getenv("REDIS_URL", "redis://localhost:6379")
    # Register the default channel layer
    register_channel_layer("default", RedisChannelLayer(hosts=[redis_url]))
    # Optional: Register additional layers for specific purposes
    # register_channel_layer("memory", InMemoryChannelLayer())
