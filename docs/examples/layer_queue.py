"""The queue layer guide's first sample (building a layer does not connect)."""

# --8<-- [start:sample]
from fast_channels.layers.redis import RedisChannelLayer

layer = RedisChannelLayer(
    hosts=["redis://localhost:6379"], prefix="app_queue", capacity=1500, expiry=3600
)
# --8<-- [end:sample]
