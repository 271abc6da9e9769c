"""What Redis's pub/sub cannot carry, refused at the sender: a message over the server's
pub/sub output buffer limit, and a message to a layer on another database number."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from fast_channels.exceptions import MessageTooLargeError
from fast_channels.layers.redis import RedisLayerOptions, RedisPubSubChannelLayer
from fast_channels.layers.redis._pipe import DEFAULT_PUBSUB_LIMIT, publish_max, pubsub_limit
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess, running_redis

pytestmark = pytest.mark.redis

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def small_buffer_redis() -> Iterator[RedisProcess]:
    """A redis-server that drops a pub/sub subscriber at 256 KB of pending output."""
    with running_redis("--client-output-buffer-limit", f"pubsub {LIMIT} 0 0") as server:
        yield server


@pytest.mark.parametrize("first", [True, False], ids=["first-call", "later-call"])
async def test_a_message_redis_would_drop_is_refused_at_the_sender(
    small_buffer_redis: RedisProcess, request: pytest.FixtureRequest, first: bool
) -> None:
    options: RedisLayerOptions = {"hosts": [small_buffer_redis.url], "prefix": prefix_for(request)}
    async with (
        RedisPubSubChannelLayer(**options) as receiver,
        RedisPubSubChannelLayer(**options) as sender,
    ):
        channel = await receiver.new_channel()
        if not first:
            await sender.send(channel, {"type": "small"})
            assert (await asyncio.wait_for(receiver.receive(channel), 10))["type"] == "small"
        too_big = {"type": "big", "data": b"x" * (publish_max(LIMIT) + 1)}
        with pytest.raises(MessageTooLargeError, match=f"output buffer reaches {LIMIT} bytes"):
            await sender.send(channel, too_big)
        with pytest.raises(MessageTooLargeError, match="client-output-buffer-limit"):
            await sender.group_send("room", too_big)
        fits = {"type": "fits", "data": b"x" * (publish_max(LIMIT) - 100)}
        await sender.send(channel, fits)
        assert (await asyncio.wait_for(receiver.receive(channel), 10))["type"] == "fits"
        assert receiver.statistics().extra["reconnects"] == 0


def test_the_limit_is_read_from_config_get() -> None:
    reply = [b"client-output-buffer-limit", b"normal 0 0 0 slave 1 2 3 pubsub 1048576 0 0"]
    assert pubsub_limit(reply) == 1048576
    assert pubsub_limit({reply[0]: reply[1]}) == 1048576  # RESP3
    assert pubsub_limit(None) == DEFAULT_PUBSUB_LIMIT
    assert publish_max(0) > 2**40  # no limit set


async def test_layers_on_two_databases_do_not_hear_each_other(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """Redis pub/sub is global to a server; the database number keeps layers apart."""
    prefix = prefix_for(request)
    async with (
        RedisPubSubChannelLayer(hosts=[f"{redis_server.url}/1"], prefix=prefix) as one,
        RedisPubSubChannelLayer(hosts=[f"{redis_server.url}/2"], prefix=prefix) as two,
        RedisPubSubChannelLayer(hosts=[f"{redis_server.url}/2"], prefix=prefix) as two_again,
    ):
        channel = await one.new_channel()
        await one.group_add("room", channel)
        await two.group_send("room", {"type": "other db"})
        assert two.statistics().extra["published_unheard"] == 1
        await two_again.group_add("room", await two_again.new_channel())
        await two.group_send("room", {"type": "same db"})
        assert two.statistics().extra["published_unheard"] == 1
        await one.group_send("room", {"type": "own db"})
        assert (await asyncio.wait_for(one.receive(channel), 10))["type"] == "own db"
