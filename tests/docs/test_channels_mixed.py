"""The guide's migration sample (docs/examples/channels_mixed.py) shares groups with real
Django Channels layers built from the ``CHANNEL_LAYERS`` its docstring shows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

pytest.importorskip("channels_redis")

from channels_redis.core import RedisChannelLayer as ChannelsQueueLayer
from channels_redis.pubsub import RedisPubSubChannelLayer as ChannelsPubSubLayer

from docs.examples.channels_mixed import setup_channel_layers
from fast_channels.layers import (
    get_channel_layer,
    registered_aliases,
    unregister_channel_layer,
)
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis

KEY = "a key of 32 bytes or more, for the sample's test"


@pytest.fixture
async def sample_layers(
    redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("CHANNELS_KEY", KEY)
    setup_channel_layers()
    yield
    for alias in registered_aliases():
        layer = unregister_channel_layer(alias)
        if layer is not None:
            await layer.flush()
            await layer.aclose()


@pytest.mark.usefixtures("sample_layers")
async def test_the_sample_shares_groups_with_django_channels(redis_server: RedisProcess) -> None:
    ours = get_channel_layer("default")
    theirs = ChannelsQueueLayer(
        hosts=[{"address": redis_server.url, "db": 0}],
        prefix="chat",
        capacity=1500,
        expiry=10,
        symmetric_encryption_keys=[KEY],
    )
    try:
        mine, yours = await ours.new_channel(), await theirs.new_channel()
        await ours.group_add("chat_lobby", mine)
        await theirs.group_add("chat_lobby", yours)
        await theirs.group_send("chat_lobby", {"type": "chat.message", "message": "from Django"})
        await ours.group_send("chat_lobby", {"type": "chat.message", "message": "from us"})
        for text in ("from Django", "from us"):
            expected = {"type": "chat.message", "message": text}
            assert await asyncio.wait_for(ours.receive(mine), 10) == expected
            assert await asyncio.wait_for(theirs.receive(yours), 10) == expected
    finally:
        await theirs.close_pools()


@pytest.mark.usefixtures("sample_layers")
async def test_the_samples_pubsub_layer_shares_groups_with_django_channels(
    redis_server: RedisProcess,
) -> None:
    ours = get_channel_layer("live")
    theirs = ChannelsPubSubLayer(hosts=[redis_server.url], prefix="live")
    try:
        mine, yours = await ours.new_channel(), await theirs.new_channel()
        await ours.group_add("scores", mine)
        await theirs.group_add("scores", yours)
        await ours.group_send("scores", {"type": "score", "home": 1})
        assert await asyncio.wait_for(theirs.receive(yours), 10) == {"type": "score", "home": 1}
        assert await asyncio.wait_for(ours.receive(mine), 10) == {"type": "score", "home": 1}
    finally:
        await theirs.flush()
