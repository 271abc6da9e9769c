"""The in-memory layer's process-local channels belong to the layer object that made them:
sending to, joining or receiving on another one's is an error, not a message that waits for
a receiver that can never come."""

from __future__ import annotations

import asyncio

import pytest

from fast_channels.exceptions import InvalidChannelNameError
from fast_channels.layers import InMemoryChannelLayer


async def test_another_in_memory_layers_channel_is_refused_everywhere() -> None:
    async with InMemoryChannelLayer() as owner, InMemoryChannelLayer() as other:
        channel = await owner.new_channel()
        with pytest.raises(InvalidChannelNameError, match="another InMemoryChannelLayer"):
            await asyncio.wait_for(other.receive(channel), 5)
        with pytest.raises(InvalidChannelNameError, match="another InMemoryChannelLayer"):
            await other.send(channel, {"type": "lost"})
        with pytest.raises(InvalidChannelNameError, match="another InMemoryChannelLayer"):
            await other.group_add("room", channel)
        assert other.statistics().buffered == 0
        await owner.send(channel, {"type": "kept"})
        assert await owner.receive(channel) == {"type": "kept"}


async def test_named_channels_are_shared_by_name_as_before() -> None:
    async with InMemoryChannelLayer() as layer:
        await layer.send("jobs", {"type": "job"})
        assert await layer.receive("jobs") == {"type": "job"}
        assert "!" in await layer.new_channel("custom.")
