"""The Redis channel layers (``pip install fast-channels[redis]``)."""

from fast_channels.layers.redis._layer import RedisLayerOptions
from fast_channels.layers.redis.pubsub import RedisPubSubChannelLayer
from fast_channels.layers.redis.queue import RedisChannelLayer

__all__: list[str] = ["RedisChannelLayer", "RedisLayerOptions", "RedisPubSubChannelLayer"]
