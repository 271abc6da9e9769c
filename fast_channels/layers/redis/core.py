"""fast-channels 1.x's module of the Redis queue layer (a compatibility path).

``from fast_channels.layers.redis.core import RedisChannelLayer, ChannelFull`` keeps
working: these are the very objects of :mod:`fast_channels.layers.redis.queue` and
:mod:`fast_channels.exceptions`. New code imports ``RedisChannelLayer`` from
:mod:`fast_channels.layers.redis`. What changed since 1.x (keyword-only options, no
``serializer_format`` / ``random_prefix_length``) is in ``docs/migrate/from-fast-channels-1.md``.
"""

from fast_channels.exceptions import ChannelFull
from fast_channels.layers.redis.queue import RedisChannelLayer

__all__ = ["ChannelFull", "RedisChannelLayer"]
