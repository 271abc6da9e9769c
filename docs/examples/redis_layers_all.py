"""Every kind of layer configured at once: in-memory, Redis queue, Redis pub/sub and Sentinel.

* ``"reliable"``: the queue layer, messages persist (up to an hour here) until received,
  each channel holds up to 1,500 of them.
* ``"chat"``: the pub/sub layer, lowest latency, nothing persists.
* ``"ha_queue"``: the queue layer through Redis Sentinel; the sentinels' password goes in
  ``sentinel_kwargs``, the master's in ``connection_kwargs``.

Building the layers does not connect to anything; the first send or receive does.
"""

# layers.py
import os

from fast_channels.layers import (
    InMemoryChannelLayer,
    has_layers,
    register_channel_layer,
)
from fast_channels.layers.redis import (
    RedisChannelLayer,
    RedisPubSubChannelLayer,
)


def setup_channel_layers() -> None:
    """Set up and register channel layers for the application."""
    if has_layers():
        return
    redis_url = os.getenv("REDIS_URL", "redis://localhost:6379")
    # In-memory for development/testing
    register_channel_layer("memory", InMemoryChannelLayer())
    # Redis Queue Layer for reliable messaging
    register_channel_layer(
        "reliable",
        RedisChannelLayer(
            hosts=[redis_url],
            prefix="app_queue",
            capacity=1500,
            expiry=3600,  # 1 hour
        ),
    )
    # Redis Pub/Sub for real-time chat
    register_channel_layer(
        "chat",
        RedisPubSubChannelLayer(
            hosts=[redis_url],
            prefix="app_chat",
        ),
    )
    # Redis Sentinel for high availability
    register_channel_layer(
        "ha_queue",
        RedisChannelLayer(
            sentinels=[("localhost", 26379)],
            service_name="mymaster",
            sentinel_kwargs={"password": "sentinel_password"},
            connection_kwargs={"password": "redis_password"},
        ),
    )
