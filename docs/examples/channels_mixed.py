"""Migrating while Django Channels still runs: one Redis, channels_redis's format.

The Django Channels processes keep their settings while the project moves over::

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": os.environ["REDIS_URL"], "db": 0}],
                "prefix": "chat",
                "capacity": 1500,
                "expiry": 10,
                "symmetric_encryption_keys": [os.environ["CHANNELS_KEY"]],
            },
        },
        "live": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": "live"},
        },
    }

The fast-channels processes take the same options, plus ``wire_format="channels_redis"``:
consumers of both kinds then join the same groups and send to each other's channels.
"""

import os

from fast_channels.layers import has_layers, register_channel_layer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer


# --8<-- [start:setup]
def setup_channel_layers() -> None:
    """Register the layers (once), speaking channels_redis's format."""
    if has_layers():
        return
    redis_url = os.environ.get("REDIS_URL", "redis://localhost:6379")
    register_channel_layer(
        "default",
        RedisChannelLayer(
            hosts=[{"address": redis_url, "db": 0}],
            prefix="chat",
            capacity=1500,
            expiry=10,
            symmetric_encryption_keys=[os.environ.get("CHANNELS_KEY", "change me: 32+ bytes")],
            wire_format="channels_redis",
        ),
    )
    register_channel_layer(
        "live",
        RedisPubSubChannelLayer(hosts=[redis_url], prefix="live", wire_format="channels_redis"),
    )


# --8<-- [end:setup]
