"""Every call of the sync API (docs/sync.md), as user code writes it: type-checked in CI.

``get_channel_layer()`` returns a :class:`~fast_channels.layers.ChannelLayer`, and every
layer has the blocking ``*_sync`` twins of its methods; ``sync.run`` runs any other
coroutine function of a layer from sync code.
"""

from __future__ import annotations

from fast_channels import sync
from fast_channels.layers import get_channel_layer
from fast_channels.types import Message


def every_sync_call(group: str = "sync-calls") -> Message:
    """Send, join, leave and flush from code that is not async; return what was received."""
    layer = get_channel_layer()
    channel = sync.run(layer.new_channel)
    layer.group_add_sync(group, channel)
    layer.group_send_sync(group, {"type": "export.done", "url": "/exports/42.csv"})
    layer.group_discard_sync(group, channel)
    layer.send_sync(channel, {"type": "thumbnail.create", "job": 7})
    first = sync.run(layer.receive, channel)
    second = sync.run(layer.receive, channel)
    layer.flush_sync()
    sync.shutdown()  # optional: at interpreter exit it happens by itself
    return {"type": "received", "group": first, "direct": second}
