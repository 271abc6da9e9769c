"""``layers.py`` for one process: register an in-memory default layer, once.

Use it for tests and single-process development; the Redis layers reach other processes.
"""

from fast_channels.layers import (
    InMemoryChannelLayer,
    has_layers,
    register_channel_layer,
)


def setup_channel_layers() -> None:
    """Set up and register channel layers for the application."""
    # Prevent duplicate registration
    if has_layers():
        return
    register_channel_layer("default", InMemoryChannelLayer())
