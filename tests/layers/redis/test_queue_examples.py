"""The README's Redis ``layers.py`` samples (docs/examples) run against a real Redis."""

from __future__ import annotations

import pytest

from docs.examples import redis_layers, redis_layers_all
from fast_channels.layers import InMemoryChannelLayer, get_channel_layer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url(redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    return redis_server.url


async def test_default_redis_layer_sample(redis_url: str) -> None:
    redis_layers.setup_channel_layers()
    redis_layers.setup_channel_layers()  # a second call registers nothing new
    layer = get_channel_layer("default")
    assert isinstance(layer, RedisChannelLayer)
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "chat.message", "message": "hi"})
        assert await layer.receive(channel) == {"type": "chat.message", "message": "hi"}
        await layer.flush()
    finally:
        await layer.aclose()


async def test_configuration_sample(redis_url: str) -> None:
    redis_layers_all.setup_channel_layers()
    assert isinstance(get_channel_layer("memory"), InMemoryChannelLayer)
    assert isinstance(get_channel_layer("chat"), RedisPubSubChannelLayer)
    assert isinstance(get_channel_layer("ha_queue"), RedisChannelLayer)
    reliable = get_channel_layer("reliable")
    assert isinstance(reliable, RedisChannelLayer)
    assert (reliable.prefix, reliable.capacity, reliable.expiry) == ("app_queue", 1500, 3600)
    try:
        await reliable.send("jobs", {"type": "job"})
        assert await reliable.receive("jobs") == {"type": "job"}
        await reliable.flush()
    finally:
        for alias in ("reliable", "chat", "ha_queue"):
            layer = get_channel_layer(alias)
            if isinstance(layer, RedisChannelLayer | RedisPubSubChannelLayer):
                await layer.aclose()
