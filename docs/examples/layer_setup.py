"""The layers guide's set-up function: register once, at start-up."""

# --8<-- [start:sample]
from fast_channels.layers import InMemoryChannelLayer, has_layers, register_channel_layer


def setup_channel_layers() -> None:
    if has_layers():  # idempotent: safe to call from every entry point
        return
    register_channel_layer("default", InMemoryChannelLayer())


# --8<-- [end:sample]
