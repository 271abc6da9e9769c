"""The pub/sub layer guide's first sample (building a layer does not connect)."""

# --8<-- [start:sample]
from fast_channels.layers import register_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

register_channel_layer(
    "chat",
    RedisPubSubChannelLayer(
        hosts=["redis://localhost:6379"],
        prefix="app_chat",
    ),
)
# --8<-- [end:sample]
