"""What the queue layer's ``statistics()`` says: groups joined here, counters and gauges apart."""

from __future__ import annotations

import pytest

from fast_channels.layers.redis import RedisChannelLayer
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis


async def test_groups_and_memberships_joined_here_are_counted(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix_for(request)) as layer:
        first, second = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("room", first)
        await layer.group_add("room", second)
        await layer.group_add("lobby", first)
        stats = layer.statistics()
        assert (stats.groups, stats.gauges["memberships"]) == (2, 3)
        await layer.group_discard("lobby", first)
        await layer.group_discard("room", first)
        stats = layer.statistics()
        assert (stats.groups, stats.gauges["memberships"]) == (1, 1)
        await layer.flush()
        assert layer.statistics().groups == 0


async def test_extra_holds_counters_and_gauges_hold_sizes(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix_for(request)) as layer:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "m"})
        await layer.receive(channel)
        stats = layer.statistics()
        assert set(stats.extra) == {
            "round_trips",
            "commands",
            "reader_batches",
            "redis_errors",
            "redis_data_lost",
            "memberships_reasserted",
        }
        assert set(stats.gauges) == {"memberships"}
        await layer.flush()


async def test_a_failed_group_add_is_not_counted(request: pytest.FixtureRequest) -> None:
    from fast_channels.exceptions import LayerConnectionError
    from tests.servers import free_port

    async with RedisChannelLayer(
        hosts=[f"redis://127.0.0.1:{free_port()}"], prefix=prefix_for(request), socket_timeout=1
    ) as layer:
        with pytest.raises(LayerConnectionError):
            await layer.group_add("room", "jobs")
        assert layer.statistics().groups == 0
