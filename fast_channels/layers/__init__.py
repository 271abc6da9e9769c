"""Channel layers: the contract, the registry, the in-memory layer, and the opt-in group
history (:mod:`.history`) and presence (:mod:`.presence`).

The Redis layers live in :mod:`fast_channels.layers.redis` (``pip install
fast-channels[redis]``).
"""

from fast_channels.layers.base import BaseChannelLayer, ChannelLayer
from fast_channels.layers.group_options import GroupOptions
from fast_channels.layers.history import Position, Recovered, Recovery, Unrecoverable
from fast_channels.layers.in_memory import InMemoryChannelLayer
from fast_channels.layers.overflow import OverflowPolicy
from fast_channels.layers.presence import Presence
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
    "GroupOptions",
    "InMemoryChannelLayer",
    "LayerStatistics",
    "OverflowPolicy",
    "Position",
    "Presence",
    "Recovered",
    "Recovery",
    "Unrecoverable",
    "channel_layers",
    "get_channel_layer",
    "has_layers",
    "register_channel_layer",
    "registered_aliases",
    "unregister_channel_layer",
]
