"""``CHANNEL_LAYERS`` ported: the same options, given to the layer's constructor.

Django Channels reads this from ``settings.py``::

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [os.environ["REDIS_URL"]],
                "prefix": "chat",
                "capacity": 1500,
                "expiry": 10,
                "group_expiry": 3600,
                "channel_capacity": {"http.request": 200, "websocket.send*": 20},
            },
        },
        "local": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    }

fast-channels has no settings: call ``setup_channel_layers()`` where the process starts
(Django's ``asgi.py``, a worker's ``--setup``) before anything is served.
"""

import os

from fast_channels.layers import InMemoryChannelLayer, has_layers, register_channel_layer
from fast_channels.layers.redis import RedisChannelLayer


def setup_channel_layers() -> None:
    """Register the layers (once: later calls do nothing)."""
    if has_layers():
        return
    register_channel_layer(
        "default",
        RedisChannelLayer(
            hosts=[os.environ.get("REDIS_URL", "redis://localhost:6379")],
            prefix="chat",
            capacity=1500,
            expiry=10,
            group_expiry=3600,
            channel_capacity={"http.request": 200, "websocket.send*": 20},
        ),
    )
    register_channel_layer("local", InMemoryChannelLayer())
