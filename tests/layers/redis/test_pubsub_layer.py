"""The Redis pub/sub layer against real Redis: what the contract suite cannot show."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest

from fast_channels.exceptions import (
    ConfigurationError,
    InvalidChannelNameError,
    LayerConnectionError,
)
from fast_channels.layers import OverflowPolicy
from fast_channels.layers.redis import RedisPubSubChannelLayer
from fast_channels.serialization import Serializer
from fast_channels.types import Message
from tests.layers.redis.queue_helpers import client_count, prefix_for, raw
from tests.servers import RedisProcess, free_port, running_redis

pytestmark = pytest.mark.redis

Make = Callable[..., RedisPubSubChannelLayer]


@pytest.fixture
async def make(redis_server: RedisProcess, request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    """Layers on the session Redis with this test's prefix; closed after the test."""
    made: list[RedisPubSubChannelLayer] = []

    def factory(**options: Any) -> RedisPubSubChannelLayer:
        options.setdefault("hosts", [redis_server.url])
        options.setdefault("prefix", prefix_for(request, "ps"))
        layer = RedisPubSubChannelLayer(**options)
        made.append(layer)
        return layer

    yield factory
    for layer in made:
        await layer.aclose()


async def numsub(url: str, key: str) -> int:
    reply = cast(list[Any], await raw(url, "PUBSUB", "NUMSUB", key))
    return int(reply[1])


async def eventually(check: Callable[[], Any], what: str) -> None:
    """Poll an async predicate until it holds (a hang guard, not a timing assertion)."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


# -- configuration ----------------------------------------------------------------------


async def test_the_readme_form_works_verbatim(redis_server: RedisProcess) -> None:
    redis_url = redis_server.url
    layer = RedisPubSubChannelLayer(hosts=[redis_url], prefix="app_chat")
    async with layer:
        channel = await layer.new_channel()
        await layer.group_add("chat_room", channel)
        await layer.group_send("chat_room", {"type": "chat_message", "message": "hi"})
        assert await layer.receive(channel) == {"type": "chat_message", "message": "hi"}
    assert layer.overflow is OverflowPolicy.DROP_OLDEST


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"overflow": "drop_everything"}, ConfigurationError, "overflow must be"),
        ({"prefix": ""}, ConfigurationError, "prefix"),
        ({"prefix": 3}, ConfigurationError, "prefix"),
        ({"prefix": "has:colon"}, ConfigurationError, "prefix"),
        ({"prefix": "x" * 51}, ConfigurationError, "prefix"),
        ({"hosts": "redis://x"}, ConfigurationError, "take a list"),
        ({"sentinels": [("h", 1)]}, ConfigurationError, "service_name"),
        ({"decode_responses": True}, TypeError, "decode_responses"),
    ],
)
def test_bad_options(options: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        RedisPubSubChannelLayer(**options)


def test_overflow_accepts_the_enum_and_its_names() -> None:
    for policy in OverflowPolicy:
        assert RedisPubSubChannelLayer(overflow=policy).overflow is policy
        assert RedisPubSubChannelLayer(overflow=policy.value).local.overflow is policy


# -- subscriptions ----------------------------------------------------------------------


async def test_group_add_is_confirmed_before_it_returns(make: Make) -> None:
    """Publish from another layer (other connections) right after group_add returns."""
    receiver, sender = make(), make()
    channel = await receiver.new_channel()
    for i in range(150):
        await receiver.group_add(f"race{i}", channel)
        await sender.group_send(f"race{i}", {"type": "n", "i": i})
        got = await asyncio.wait_for(receiver.receive(channel), 5)
        assert got == {"type": "n", "i": i}
    assert sender.statistics().extra["published_unheard"] == 0


async def test_new_channel_is_subscribed_before_it_returns(make: Make) -> None:
    for prefix in ("a.", "b.", "c."):
        receiver, sender = make(), make()
        channel = await receiver.new_channel(prefix)
        await sender.send(channel, {"type": "first"})
        assert await asyncio.wait_for(receiver.receive(channel), 5) == {"type": "first"}
        assert sender.statistics().extra["published_unheard"] == 0


async def test_concurrent_subscribers_to_one_new_group_all_receive(make: Make) -> None:
    receiver, sender = make(), make()
    channels = [await receiver.new_channel() for _ in range(50)]
    await asyncio.gather(*(receiver.group_add("fresh", ch) for ch in channels))
    await sender.group_send("fresh", {"type": "hello"})
    for channel in channels:
        assert await asyncio.wait_for(receiver.receive(channel), 5) == {"type": "hello"}


async def test_discarding_the_last_member_unsubscribes(
    make: Make, redis_server: RedisProcess
) -> None:
    layer = make()
    key = f"{layer.prefix}:g:room"
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room", a)
    await layer.group_add("room", b)
    assert await numsub(redis_server.url, key) == 1
    await layer.group_discard("room", a)
    assert await numsub(redis_server.url, key) == 1
    subscriptions = layer.statistics().extra["subscriptions"]
    await layer.group_discard("room", b)
    assert layer.statistics().extra["subscriptions"] == subscriptions - 1

    async def gone() -> bool:
        return await numsub(redis_server.url, key) == 0

    await eventually(gone, "the group is unsubscribed on the server")


async def test_receiving_on_a_named_channel_subscribes_to_it(
    make: Make, redis_server: RedisProcess
) -> None:
    worker, sender = make(), make()
    waiter = asyncio.create_task(worker.receive("thumbnails"))

    async def subscribed() -> bool:
        return await numsub(redis_server.url, f"{worker.prefix}:c:thumbnails") == 1

    await eventually(subscribed, "receive() subscribes to its named channel")
    await sender.send("thumbnails", {"type": "job", "id": 7})
    assert await asyncio.wait_for(waiter, 5) == {"type": "job", "id": 7}


async def test_a_message_nobody_listens_to_is_gone_and_counted(make: Make) -> None:
    sender, late = make(), make()
    await sender.send("nobody-home", {"type": "lost"})
    assert sender.statistics().extra["published_unheard"] == 1
    waiter = asyncio.create_task(late.receive("nobody-home"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(waiter), 0.3)
    await sender.send("nobody-home", {"type": "heard"})
    assert await asyncio.wait_for(waiter, 5) == {"type": "heard"}


# -- transport --------------------------------------------------------------------------


async def test_group_send_is_one_publish_and_one_decode(
    make: Make, redis_server: RedisProcess
) -> None:
    layer = make()
    decodes: list[int] = []
    real: Serializer = layer.serializer

    class Counting:
        def dumps(self, message: Message) -> bytes:
            return real.dumps(message)

        def loads(self, data: bytes) -> Message:
            decodes.append(1)
            return real.loads(data)

    layer.serializer = Counting()
    members = [await layer.new_channel() for _ in range(100)]
    for channel in members:
        await layer.group_add("big", channel)

    async def publishes() -> int:
        info = cast(dict[str, dict[str, int]], await raw(redis_server.url, "INFO", "commandstats"))
        return info.get("cmdstat_publish", {}).get("calls", 0)

    before = await publishes()
    await layer.group_send("big", {"type": "all", "items": [1, 2]})
    assert await publishes() - before == 1
    got = [await layer.receive(ch) for ch in members]
    assert all(m == {"type": "all", "items": [1, 2]} for m in got)
    assert len(decodes) == 1


async def test_concurrent_senders_share_round_trips(make: Make) -> None:
    receiver, sender = make(capacity=2000), make()
    channel = await receiver.new_channel()
    await asyncio.gather(*(sender.send(channel, {"type": "n", "i": i}) for i in range(500)))
    got = sorted([(await receiver.receive(channel))["i"] for _ in range(500)])
    assert got == list(range(500))


async def test_encrypted_messages_are_not_readable_on_the_wire(
    make: Make, redis_server: RedisProcess
) -> None:
    layer = make(symmetric_encryption_keys=["k1"])
    channel = await layer.new_channel()
    spy = await asyncio.open_connection("127.0.0.1", redis_server.port)
    reader, writer = spy
    head = channel.split("!")[0]
    writer.write(f"SUBSCRIBE {layer.prefix}:c:{head}\r\n".encode())
    await reader.readuntil(b":1\r\n")
    await layer.send(channel, {"type": "secret", "text": "plaintext-marker"})
    assert await layer.receive(channel) == {"type": "secret", "text": "plaintext-marker"}
    wire = await asyncio.wait_for(reader.read(4096), 5)
    assert b"message" in wire
    assert b"plaintext-marker" not in wire
    writer.close()
    await writer.wait_closed()


async def test_overflow_is_counted_and_logged(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    layer = make(capacity=2)
    channel, barrier = await layer.new_channel(), await layer.new_channel()
    with caplog.at_level(logging.WARNING, logger="fast_channels"):
        for i in range(5):
            await layer.send(channel, {"type": "n", "i": i})
        await layer.send(barrier, {"type": "barrier"})
        await layer.receive(barrier)
    assert layer.statistics().dropped_overflow == 3
    assert [(await layer.receive(channel))["i"] for _ in range(2)] == [3, 4]
    assert any(
        "drop_oldest" in r.getMessage() and channel in r.getMessage() for r in caplog.records
    )


# -- connections ------------------------------------------------------------------------


async def test_aclose_releases_every_connection(make: Make, redis_server: RedisProcess) -> None:
    before = await client_count(redis_server.url)
    layer = make()
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    await asyncio.gather(*(layer.group_send("room", {"type": "x"}) for _ in range(20)))
    assert await client_count(redis_server.url) > before
    await layer.aclose()

    async def released() -> bool:
        return await client_count(redis_server.url) == before

    await eventually(released, "every connection of the layer is closed")


async def test_dead_server_is_a_connection_error_in_bounded_time() -> None:
    layer = RedisPubSubChannelLayer(hosts=[f"redis://127.0.0.1:{free_port()}"])
    async with layer:
        with pytest.raises(LayerConnectionError, match="unreachable"):
            await asyncio.wait_for(layer.send("somewhere", {"type": "x"}), 15)
        with pytest.raises(LayerConnectionError):
            await asyncio.wait_for(layer.group_send("room", {"type": "x"}), 15)
        with pytest.raises(LayerConnectionError):
            await asyncio.wait_for(layer.new_channel(), 15)
        with pytest.raises(LayerConnectionError):
            await asyncio.wait_for(layer.group_add("room", "specific.x!y"), 15)
        assert layer.statistics().groups == 0
        assert layer.statistics().extra["subscriptions"] == 0


def test_a_layer_moves_between_event_loops(redis_server: RedisProcess) -> None:
    """asyncio.run() after asyncio.run(): subscriptions follow; no foreign-loop errors."""
    receiver = RedisPubSubChannelLayer(hosts=[redis_server.url], prefix="multiloop")
    sender = RedisPubSubChannelLayer(hosts=[redis_server.url], prefix="multiloop")
    channel = asyncio.run(receiver.new_channel())

    async def first() -> Message:
        await receiver.group_add("room", channel)
        await sender.group_send("room", {"type": "one"})
        return await receiver.receive(channel)

    async def second() -> Message:
        await receiver.group_add("room", channel)  # renewing it here moves the subscriptions
        await sender.group_send("room", {"type": "two"})
        return await receiver.receive(channel)

    async def close() -> None:
        await receiver.aclose()
        await sender.aclose()

    assert asyncio.run(first()) == {"type": "one"}
    assert asyncio.run(second()) == {"type": "two"}
    asyncio.run(close())
    gc.collect()


async def test_reconnects_and_resubscribes_after_a_redis_restart() -> None:
    with running_redis() as server:
        layer = RedisPubSubChannelLayer(hosts=[server.url], prefix="restart")
        async with layer:
            channel = await layer.new_channel()
            await layer.group_add("room", channel)
            server.stop()
            server.start()
            for _ in range(300):
                with contextlib.suppress(LayerConnectionError):
                    await layer.group_send("room", {"type": "back"})
                with contextlib.suppress(TimeoutError):
                    got = await asyncio.wait_for(layer.receive(channel), 0.05)
                    if got["type"] == "layer.reconnected":  # see test_pubsub_resync.py
                        continue
                    assert got == {"type": "back"}
                    break
            else:
                raise AssertionError("no message after the restart")
            assert layer.statistics().extra["reconnects"] >= 1


async def test_sharding_spreads_groups_over_both_servers(
    redis_server: RedisProcess, redis_server_2: RedisProcess, request: pytest.FixtureRequest
) -> None:
    hosts = [redis_server.url, redis_server_2.url]
    prefix = prefix_for(request, "shard")
    async with (
        RedisPubSubChannelLayer(hosts=hosts, prefix=prefix) as receiver,
        RedisPubSubChannelLayer(hosts=hosts, prefix=prefix) as sender,
    ):
        channel = await receiver.new_channel()
        groups = [f"g{i}" for i in range(20)]
        for group in groups:
            await receiver.group_add(group, channel)
        for server in (redis_server, redis_server_2):
            held = cast(list[bytes], await raw(server.url, "PUBSUB", "CHANNELS", f"{prefix}:g:*"))
            assert 0 < len(held) < len(groups)
        for group in groups:
            await sender.group_send(group, {"type": "g", "name": group})
        got = {(await receiver.receive(channel))["name"] for _ in groups}
        assert got == set(groups)


async def test_receiving_on_another_layers_process_channel_is_refused(
    redis_server: RedisProcess,
) -> None:
    """It would subscribe this process to the other's inbox and duplicate its traffic."""
    mine = RedisPubSubChannelLayer(hosts=[redis_server.url], prefix="foreign-test")
    theirs = RedisPubSubChannelLayer(hosts=[redis_server.url], prefix="foreign-test")
    try:
        channel = await theirs.new_channel()
        with pytest.raises(InvalidChannelNameError, match="process-local"):
            await mine.receive(channel)
        with pytest.raises(InvalidChannelNameError, match="process-local"):
            await mine.receive("made.up!name")
    finally:
        await mine.aclose()
        await theirs.aclose()
