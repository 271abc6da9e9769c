"""Channel layers: the contract, the registry, and the in-memory layer.

The Redis layers live in :mod:`fast_channels.layers.redis` (``pip install
fast-channels[redis]``).
"""

from fast_channels.layers.base import BaseChannelLayer, ChannelLayer
from fast_channels.layers.in_memory import InMemoryChannelLayer
from fast_channels.layers.overflow import OverflowPolicy
from fast_channels.layers.registry import (
    ChannelLayerRegistry,
    channel_layers,
    get_channel_layer,
    has_layers,
    register_channel_layer,
    registered_aliases,
    unregister_channel_layer,
)
from fast_channels.layers.statistics import LayerStatistics

__all__ = [
    "BaseChannelLayer",
    "ChannelLayer",
    "ChannelLayerRegistry",
    "InMemoryChannelLayer",
    "LayerStatistics",
    "OverflowPolicy",
    "channel_layers",
    "get_channel_layer",
    "has_layers",
    "register_channel_layer",
    "registered_aliases",
    "unregister_channel_layer",
]
