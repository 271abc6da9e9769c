"""Redis queue layer specifics beyond the contract suite, against real Redis servers."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any, cast

import pytest

from fast_channels.exceptions import (
    ChannelFull,
    ConfigurationError,
    InvalidChannelNameError,
    LayerClosedError,
    LayerConnectionError,
)
from fast_channels.layers.redis import RedisChannelLayer
from tests.layers.redis.queue_helpers import client_count, keys, prefix_for, raw
from tests.servers import RedisProcess, free_port

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return prefix_for(request)


async def test_named_channel_persists_until_a_receiver_comes(
    redis_server: RedisProcess, prefix: str
) -> None:
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as sender:
        for i in range(3):
            await sender.send("thumbnails", {"type": "job", "i": i})
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as worker:
        got = [(await worker.receive("thumbnails"))["i"] for _ in range(3)]
        await worker.flush()
    assert got == [0, 1, 2]


async def test_expired_messages_a_send_drops_from_a_full_named_channel_are_counted(
    redis_server: RedisProcess, prefix: str
) -> None:
    """A send to a full named channel first drops its expired messages (nobody received
    them in time): the sender counts them as expired, as a receiver popping them would."""
    options: dict[str, Any] = {"hosts": [redis_server.url], "prefix": prefix}
    async with RedisChannelLayer(capacity=2, expiry=0.5, **options) as layer:
        await layer.send("jobs", {"type": "old", "i": 0})
        await layer.send("jobs", {"type": "old", "i": 1})
        with pytest.raises(ChannelFull):
            await layer.send("jobs", {"type": "refused"})
        await asyncio.sleep(0.6)  # both messages' deadlines (wall clock) have passed
        await layer.send("jobs", {"type": "new"})
        stats = layer.statistics()
        assert (stats.expired, stats.rejected_full, stats.sent) == (2, 1, 3)
        assert await asyncio.wait_for(layer.receive("jobs"), 5) == {"type": "new"}
        await layer.flush()


async def test_local_channel_persists_until_its_process_receives(
    redis_server: RedisProcess, prefix: str
) -> None:
    async with (
        RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as receiver,
        RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as sender,
    ):
        channel = await receiver.new_channel()
        await sender.send(channel, {"type": "early"})
        assert await receiver.receive(channel) == {"type": "early"}
        await receiver.flush()


async def test_hundred_idle_channels_take_a_message_each(
    redis_server: RedisProcess, prefix: str
) -> None:
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as layer:
        channels = [await layer.new_channel() for _ in range(150)]
        for channel in channels:
            await layer.send(channel, {"type": "hello"})
        crowded = channels[0]
        for _ in range(99):
            await layer.send(crowded, {"type": "more"})
        with pytest.raises(ChannelFull):
            await layer.send(crowded, {"type": "one too many"})
        assert layer.statistics().rejected_full == 1
        await layer.flush()


async def test_another_process_sees_channel_full(redis_server: RedisProcess, prefix: str) -> None:
    async with (
        RedisChannelLayer(hosts=[redis_server.url], prefix=prefix, capacity=2) as receiver,
        RedisChannelLayer(hosts=[redis_server.url], prefix=prefix, capacity=2) as sender,
    ):
        channel = await receiver.new_channel()
        await sender.send(channel, {"type": "n", "i": 0})
        await sender.send(channel, {"type": "n", "i": 1})
        with pytest.raises(ChannelFull):
            await sender.send(channel, {"type": "n", "i": 2})
        assert (await receiver.receive(channel))["i"] == 0
        for _ in range(200):  # the receiver reports what it handed out in the background
            try:
                await sender.send(channel, {"type": "n", "i": 2})
                break
            except ChannelFull:
                await asyncio.sleep(0.01)
        assert [(await receiver.receive(channel))["i"] for _ in range(2)] == [1, 2]
        await receiver.flush()


async def test_group_send_pushes_one_entry_per_receiving_process(
    redis_server: RedisProcess, prefix: str
) -> None:
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as layer:
        members = [await layer.new_channel() for _ in range(1000)]
        await asyncio.gather(*(layer.group_add("crowd", m) for m in members))
        await layer.group_send("crowd", {"type": "wave"})
        inbox = f"{prefix}:in:{layer.token}"
        assert await raw(redis_server.url, "LLEN", inbox) == 1
        got = await asyncio.gather(*(layer.receive(m) for m in members))
        assert all(message == {"type": "wave"} for message in got)
        await layer.flush()


async def test_pipelining_shares_round_trips(redis_server: RedisProcess, prefix: str) -> None:
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as layer:
        await layer.send("warm-up", {"type": "x"})
        before = layer.statistics().extra["round_trips"]
        await asyncio.gather(*(layer.send(f"ch{i}", {"type": "x"}) for i in range(200)))
        trips = layer.statistics().extra["round_trips"] - before
        assert trips < 20
        await layer.flush()


async def test_thousand_concurrent_group_discards_all_succeed(
    redis_server: RedisProcess, prefix: str
) -> None:
    async with RedisChannelLayer(
        hosts=[redis_server.url],
        prefix=prefix,
        max_connections=3,  # the least it takes
    ) as layer:
        members = [await layer.new_channel() for _ in range(1000)]
        await asyncio.gather(*(layer.group_add("room", m) for m in members))
        results = await asyncio.gather(
            *(layer.group_discard("room", m) for m in members), return_exceptions=True
        )
        assert [r for r in results if r is not None] == []
        assert await raw(redis_server.url, "ZCARD", f"{prefix}:g:room") == 0
        assert layer.statistics().extra["redis_errors"] == 0
        await layer.flush()


async def test_group_memberships_expire_in_redis(redis_server: RedisProcess, prefix: str) -> None:
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix, group_expiry=1) as layer:
        old = await layer.new_channel()
        await layer.group_add("room", old)
        await asyncio.sleep(1.2)
        fresh = await layer.new_channel()
        await layer.group_add("room", fresh)
        await layer.group_send("room", {"type": "hi"})
        members = await raw(redis_server.url, "ZRANGE", f"{prefix}:g:room", 0, -1)
        assert members == [fresh.encode()]
        assert await layer.receive(fresh) == {"type": "hi"}
        await layer.flush()


async def test_inbox_keys_always_carry_a_ttl_outlasting_their_messages(
    redis_server: RedisProcess, prefix: str
) -> None:
    url = redis_server.url
    async with (
        RedisChannelLayer(hosts=[url], prefix=prefix, expiry=8) as receiver,
        RedisChannelLayer(hosts=[url], prefix=prefix, expiry=8) as sender,
    ):
        channel = await receiver.new_channel()
        inbox, counts = f"{prefix}:in:{receiver.token}", f"{prefix}:n:{receiver.token}"
        for _ in range(3):  # the first send sets the TTLs; the next ones recreate the keys
            await sender.send(channel, {"type": "hi"})
            for key in (inbox, counts):
                assert 8 <= cast(int, await raw(url, "TTL", key)) <= 10
            await raw(url, "DEL", inbox, counts)  # as a drained inbox and its acks do
        await sender.send(channel, {"type": "hi"})
        await sender.send(channel, {"type": "hi"})  # the keys exist: within the interval
        assert [await receiver.receive(channel) for _ in range(2)] == [{"type": "hi"}] * 2
        await receiver.flush()


async def test_group_discard_removes_only_that_member(
    redis_server: RedisProcess, prefix: str
) -> None:
    async with RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as layer:
        a, b, c = [await layer.new_channel() for _ in range(3)]
        for member in ("job", "jobs", a, b, c):
            await layer.group_add("room", member)
        await layer.group_add("room", b)  # a refresh adds nothing
        for member in ("job", b):
            await layer.group_discard("room", member)
        await layer.group_discard("room", b)  # no longer a member: a no-op
        await layer.group_send("room", {"type": "hi"})
        assert await layer.receive("jobs") == {"type": "hi"}
        assert [await layer.receive(m) for m in (a, c)] == [{"type": "hi"}] * 2
        assert await raw(redis_server.url, "LLEN", f"{prefix}:q:job") == 0
        assert layer.local.pending(b) == 0
        for member in ("jobs", a, c):
            await layer.group_discard("room", member)
        assert await keys(redis_server.url, f"{prefix}:g*") == []
        await layer.flush()


async def test_flush_deletes_only_its_own_prefix(redis_server: RedisProcess, prefix: str) -> None:
    url = redis_server.url
    await raw(url, "SET", f"{prefix}x-unrelated", "keep")
    async with (
        RedisChannelLayer(hosts=[url], prefix=prefix) as mine,
        RedisChannelLayer(hosts=[url], prefix=f"{prefix}x") as theirs,
    ):
        for layer in (mine, theirs):
            channel = await layer.new_channel()
            await layer.group_add("room", channel)
            await layer.send("jobs", {"type": "job"})
            await layer.send(channel, {"type": "direct"})
        assert await keys(url, f"{prefix}:*")
        await mine.flush()
        assert await keys(url, f"{prefix}:*") == []
        assert len(await keys(url, f"{prefix}x:*")) == 6  # g, gm, in, live, n, q
        assert await theirs.receive("jobs") == {"type": "job"}
        await theirs.flush()
        assert await keys(url, f"{prefix}x*") == [f"{prefix}x-unrelated".encode()]
    await raw(url, "DEL", f"{prefix}x-unrelated")


async def test_sharding_spreads_keys_over_both_servers(
    redis_server: RedisProcess, redis_server_2: RedisProcess, prefix: str
) -> None:
    hosts = [redis_server.url, redis_server_2.url]
    async with RedisChannelLayer(hosts=hosts, prefix=prefix) as layer:
        names = [f"work.{i}" for i in range(20)]
        for name in names:
            await layer.send(name, {"type": "job", "name": name})
        on_one = await keys(hosts[0], f"{prefix}:q:*")
        on_two = await keys(hosts[1], f"{prefix}:q:*")
        assert on_one
        assert on_two
        assert len(on_one) + len(on_two) == 20
        for name in names:
            assert (await layer.receive(name))["name"] == name
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.group_add("room", "work.0")
        await layer.group_send("room", {"type": "all"})
        assert await layer.receive(channel) == {"type": "all"}
        assert await layer.receive("work.0") == {"type": "all"}
        await layer.flush()


async def test_sentinel_reaches_the_master(redis_sentinel: RedisProcess, prefix: str) -> None:
    async with RedisChannelLayer(
        sentinels=[("127.0.0.1", redis_sentinel.port)],
        service_name="mymaster",
        sentinel_kwargs={"socket_timeout": 2},
        connection_kwargs={"client_name": "fc-queue-test"},
        prefix=prefix,
    ) as layer:
        await layer.send("jobs", {"type": "job"})
        host, port = cast(
            list[bytes],
            await raw(redis_sentinel.url, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"),
        )
        master = f"redis://{host.decode()}:{int(port)}"
        assert await keys(master, f"{prefix}:q:jobs") == [f"{prefix}:q:jobs".encode()]
        assert await layer.receive("jobs") == {"type": "job"}
        await layer.flush()


async def test_aclose_releases_every_connection(redis_server: RedisProcess, prefix: str) -> None:
    before = await client_count(redis_server.url)
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "x"})
    await layer.receive(channel)
    waiter = asyncio.create_task(layer.receive("jobs"))
    await asyncio.sleep(0.05)
    assert await client_count(redis_server.url) > before
    await layer.flush()
    await layer.aclose()
    await asyncio.gather(waiter, return_exceptions=True)
    assert await client_count(redis_server.url) == before


async def test_aclose_while_the_layer_is_still_connecting_ends(
    redis_server: RedisProcess, prefix: str
) -> None:
    """Closing while the first connections are being made (their handshake writes can
    swallow one cancellation on Python 3.11) ends, and releases them."""
    for _ in range(3):
        layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
        receiving = asyncio.create_task(layer.receive(await layer.new_channel()))
        await asyncio.sleep(0)
        await asyncio.wait_for(layer.aclose(), 10)
        with pytest.raises(LayerClosedError):
            await receiving


def test_layer_works_across_event_loops(redis_server: RedisProcess) -> None:
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix="qt-loops")

    async def round_trip(i: int) -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "n", "i": i})
        await layer.send("jobs", {"type": "n", "i": i})
        assert (await layer.receive(channel))["i"] == i
        assert (await layer.receive("jobs"))["i"] == i

    for i in range(3):
        asyncio.run(round_trip(i))
        gc.collect()
    asyncio.run(layer.flush())
    asyncio.run(layer.aclose())
    gc.collect()


async def test_unreachable_redis_raises_connection_error(prefix: str) -> None:
    layer = RedisChannelLayer(hosts=[f"redis://127.0.0.1:{free_port()}"], socket_timeout=2)
    started = time.monotonic()
    with pytest.raises(LayerConnectionError, match="unreachable"):
        await asyncio.wait_for(layer.send("jobs", {"type": "x"}), 20)
    with pytest.raises(LayerConnectionError):
        await asyncio.wait_for(layer.group_send("room", {"type": "x"}), 20)
    with pytest.raises(LayerConnectionError):
        await asyncio.wait_for(layer.flush(), 20)
    assert time.monotonic() - started < 20
    await layer.aclose()


async def test_cancelled_named_receive_returns_its_message(
    redis_server: RedisProcess, prefix: str
) -> None:
    async with (
        RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as one,
        RedisChannelLayer(hosts=[redis_server.url], prefix=prefix) as two,
    ):
        for _ in range(10):
            waiter = asyncio.create_task(one.receive("jobs"))
            await asyncio.sleep(0.01)
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        await one.send("jobs", {"type": "job"})
        assert await asyncio.wait_for(two.receive("jobs"), 10) == {"type": "job"}
        await one.flush()


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"prefix": "has:colon"}, ConfigurationError, "prefix"),
        ({"prefix": ""}, ConfigurationError, "prefix"),
        ({"receive_batch": 0}, ConfigurationError, "receive_batch"),
        ({"hosts": ["redis://x"], "sentinels": [("x", 1)]}, ConfigurationError, "not both"),
        ({"sentinels": [("x", 1)]}, ConfigurationError, "service_name"),
        ({"bogus": 1}, TypeError, "bogus"),
    ],
)
def test_bad_options(options: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        RedisChannelLayer(**options)


async def test_lost_scripts_are_resent_in_order(redis_server: RedisProcess, prefix: str) -> None:
    """After SCRIPT FLUSH (a restarted Redis), queued sends keep their FIFO order."""
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "warm-up"})
        assert (await layer.receive(channel))["type"] == "warm-up"
        await raw(redis_server.url, "SCRIPT", "FLUSH")
        await asyncio.gather(*(layer.send(channel, {"type": "n", "i": i}) for i in range(5)))
        got = [(await asyncio.wait_for(layer.receive(channel), 5))["i"] for _ in range(5)]
        assert got == list(range(5))
    finally:
        await layer.aclose()


async def test_aclose_fails_waiting_sends_with_layer_closed(
    redis_server: RedisProcess, prefix: str
) -> None:
    """Senders caught by aclose() learn the layer closed; they are not 'cancelled'."""
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
    channel = await layer.new_channel()
    sends = [asyncio.ensure_future(layer.send(channel, {"type": "n"})) for _ in range(50)]
    await asyncio.sleep(0)
    await layer.aclose()
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert not any(isinstance(r, asyncio.CancelledError) for r in results)
    assert all(r is None or isinstance(r, LayerClosedError | LayerConnectionError) for r in results)


async def test_a_send_redis_admitted_is_delivered_even_after_group_messages(
    redis_server: RedisProcess, prefix: str
) -> None:
    """Group messages fill a mailbox before the receiver reports them to Redis; a direct
    send that Redis then accepts (no ChannelFull for the sender) must still arrive."""
    receiver = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix, capacity=2)
    sender = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix, capacity=2)
    try:
        channel = await receiver.new_channel()
        await receiver.group_add("g", channel)
        waiter = asyncio.ensure_future(receiver.receive(channel))  # starts the inbox reader
        await asyncio.sleep(0.05)
        await sender.send(channel, {"type": "first"})
        assert (await asyncio.wait_for(waiter, 5))["type"] == "first"
        await sender.group_send("g", {"type": "g.1"})
        await sender.group_send("g", {"type": "g.2"})
        try:  # usually before the receiver has reported the group messages to Redis
            await sender.send(channel, {"type": "direct"})
            expected = ["g.1", "g.2", "direct"]
        except ChannelFull:  # the sender is told: that is fine too
            expected = ["g.1", "g.2"]
        got = [(await asyncio.wait_for(receiver.receive(channel), 5))["type"] for _ in expected]
        assert got == expected
        assert receiver.statistics().dropped_overflow == 0
    finally:
        await receiver.aclose()
        await sender.aclose()


async def test_receiving_on_another_layers_process_channel_is_refused(
    redis_server: RedisProcess, prefix: str
) -> None:
    mine = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
    theirs = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
    try:
        channel = await theirs.new_channel()
        with pytest.raises(InvalidChannelNameError, match="process-local"):
            await mine.receive(channel)
    finally:
        await mine.aclose()
        await theirs.aclose()
