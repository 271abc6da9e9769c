"""The Redis pub/sub layer used from many event loops in turn keeps nothing of the finished
ones: no pipes, clients, subscribers or connections, and the loops themselves are freed."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVarTuple, cast

import pytest

from fast_channels.exceptions import LayerClosedError
from fast_channels.layers._local import Payload
from fast_channels.layers.redis import RedisPubSubChannelLayer
from tests.layers.redis.queue_helpers import raw
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis

Run = Callable[[Coroutine[Any, Any, None]], None]
Ts = TypeVarTuple("Ts")


async def connections_named(url: str, name: str) -> int:
    """How many connections to the Redis at ``url`` carry the client name ``name``."""
    listing = cast(bytes, await raw(url, "CLIENT", "LIST"))
    field = b"name=" + name.encode()
    return sum(field in line.split() for line in listing.splitlines())


def settle(url: str, name: str, at_most: int) -> int:
    """Poll (outside any loop) until at most ``at_most`` connections are named ``name``;
    the server sees a closed socket a moment after the client closed it. A hang guard,
    not a timing assertion: returns the last count either way."""
    count = asyncio.run(connections_named(url, name))
    for _ in range(500):
        if count <= at_most:
            break
        time.sleep(0.01)
        count = asyncio.run(connections_named(url, name))
    return count


def held(obj: object, table: str) -> int:
    """The size of a per-loop table of ``obj`` (what the bug report counted)."""
    return len(cast(dict[object, object], vars(obj)[table]))


class Rounds:
    """Rounds of direct and group messages on one layer, each on whatever loop runs it.

    The channel made in the first round stays a member of ``room`` for good, so every
    later round also checks that the group subscription moved to the new loop.
    """

    def __init__(self, layer: RedisPubSubChannelLayer, url: str, name: str) -> None:
        self.layer = layer
        self.url = url
        self.name = name
        self.loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
        self.first = ""
        self.peaks: list[int] = []

    async def play(self, i: int) -> None:
        layer = self.layer
        self.loops.append(weakref.ref(asyncio.get_running_loop()))
        channel = await layer.new_channel()
        self.first = self.first or channel
        await layer.send(channel, {"type": "direct", "i": i})
        assert await layer.receive(channel) == {"type": "direct", "i": i}
        await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "group", "i": i})
        assert await layer.receive(self.first) == {"type": "group", "i": i}
        if channel != self.first:
            assert await layer.receive(channel) == {"type": "group", "i": i}
            await layer.group_discard("room", channel)
        self.peaks.append(await connections_named(self.url, self.name))

    def live_loops(self) -> int:
        gc.collect()
        return sum(ref() is not None for ref in self.loops)


def make_layer(url: str, name: str) -> RedisPubSubChannelLayer:
    return RedisPubSubChannelLayer(
        hosts=[url], prefix=name, connection_kwargs={"client_name": name}
    )


def test_twenty_asyncio_runs_leave_nothing_behind(redis_server: RedisProcess) -> None:
    url, name = redis_server.url, "fc-pubsub-loops-run"
    layer = make_layer(url, name)
    rounds = Rounds(layer, url, name)
    for i in range(20):
        asyncio.run(rounds.play(i))
        assert rounds.live_loops() == 0, f"round {i}: a finished loop is still referenced"
        assert held(layer, "_pipes") == 0
        assert held(layer, "_loops") == 0
        assert held(layer.connection, "_clients") == 0
        assert settle(url, name, 0) == 0, f"round {i}: connections outlived their loop"
    assert rounds.peaks[0] >= 1
    assert max(rounds.peaks) == rounds.peaks[0], "connections per loop grew"
    assert layer.statistics().extra["subscriptions"] == 2  # the inbox and the room
    asyncio.run(layer.aclose())
    assert settle(url, name, 0) == 0


def test_runners_of_pytest_asyncio_style_leave_nothing_behind(redis_server: RedisProcess) -> None:
    """A new asyncio.Runner per round, as pytest-asyncio makes one loop per test."""
    url, name = redis_server.url, "fc-pubsub-loops-runner"
    layer = make_layer(url, name)
    rounds = Rounds(layer, url, name)
    for i in range(20):
        with asyncio.Runner() as runner:
            runner.run(rounds.play(i))
            assert held(layer, "_pipes") == 1  # the loop still lives: its pipes stay
        assert rounds.live_loops() == 0, f"round {i}: a finished loop is still referenced"
        assert held(layer, "_pipes") == 0
        assert held(layer.connection, "_clients") == 0
        assert settle(url, name, 0) == 0
    assert max(rounds.peaks) == rounds.peaks[0]
    asyncio.run(layer.aclose())


def test_two_live_loops_in_turn_keep_a_bounded_number_of_connections(
    redis_server: RedisProcess,
) -> None:
    """Two loops kept open and used alternately: the subscriptions move each time; the
    idle loop's old subscriber closes when it runs again, and each loop's rest at its end."""
    url, name = redis_server.url, "fc-pubsub-loops-two"
    layer = make_layer(url, name)
    rounds = Rounds(layer, url, name)
    with asyncio.Runner() as a, asyncio.Runner() as b:
        for i in range(12):
            (a if i % 2 == 0 else b).run(rounds.play(i))
            assert held(layer, "_pipes") <= 2
            # Per loop a command pipe, plus the home loop's subscriber and the idle
            # loop's retired one (until that loop runs again).
            assert settle(url, name, 4) <= 4, f"round {i}: connections pile up"
    assert rounds.live_loops() == 0
    assert held(layer, "_pipes") == 0
    assert held(layer.connection, "_clients") == 0
    assert settle(url, name, 0) == 0
    asyncio.run(layer.aclose())


def test_aclose_closes_its_own_loop_and_forgets_the_others(redis_server: RedisProcess) -> None:
    url, name = redis_server.url, "fc-pubsub-loops-aclose"
    layer = make_layer(url, name)
    rounds = Rounds(layer, url, name)
    with asyncio.Runner() as idle:
        idle.run(rounds.play(0))
        with asyncio.Runner() as current:
            current.run(rounds.play(1))
            current.run(layer.aclose())
            assert held(layer, "_pipes") == 0
            assert held(layer, "_loops") == 0
            assert held(layer.connection, "_clients") == 0
            # What is left open belongs to the idle loop, closed when it runs or ends.
            assert settle(url, name, 2) <= 2
    assert rounds.live_loops() == 0
    assert settle(url, name, 0) == 0


def test_memberships_made_on_a_finished_loop_move_to_the_next(
    redis_server: RedisProcess,
) -> None:
    """A group joined on a finished loop still reaches its member on the next loop."""
    url, name = redis_server.url, "fc-pubsub-loops-carry"
    receiver = make_layer(url, name)
    sender = make_layer(url, name)

    async def join() -> str:
        channel = await receiver.new_channel()
        await receiver.group_add("carried", channel)
        return channel

    channel = asyncio.run(join())
    assert receiver.statistics().extra["subscriptions"] == 2  # kept for the next loop
    assert settle(url, name, 0) == 0

    async def hear() -> None:
        await receiver.new_channel()  # confirms the inbox, and the carried group with it
        await sender.group_send("carried", {"type": "late"})
        assert await receiver.receive(channel) == {"type": "late"}

    asyncio.run(hear())
    asyncio.run(receiver.aclose())
    asyncio.run(sender.aclose())
    assert settle(url, name, 0) == 0


class WatchedLoop(asyncio.SelectorEventLoop):
    """An event loop that notes when another thread hands it work."""

    def __init__(self) -> None:
        super().__init__()
        self.handed = threading.Event()

    def call_soon_threadsafe(
        self,
        callback: Callable[[*Ts], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        self.handed.set()
        return super().call_soon_threadsafe(callback, *args, context=context)


async def test_aclose_from_another_thread_keeps_nothing_its_subscriber_delivers(
    redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The subscriptions live on a loop in another thread; aclose() runs here. A message
    the home loop's subscriber is delivering when aclose() starts acting on that loop
    must not end up kept by the closed layer."""
    layer = make_layer(redis_server.url, "fc-pubsub-close-order")
    home = WatchedLoop()
    thread = threading.Thread(target=home.run_forever, name="home loop")
    thread.start()
    try:
        waiting = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(layer.new_channel(), home)
        )
        quiet = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(layer.new_channel(), home)
        )
        receiving = asyncio.run_coroutine_threadsafe(layer.receive(waiting), home)
        for _ in range(500):  # a hang guard, not a timing assertion
            if layer.statistics().waiting_receivers:
                break
            await asyncio.sleep(0.01)
        arrived = threading.Event()
        put = layer.local.put_nowait

        def delivered_once_aclose_acts(channel: str, payload: Payload, **options: bool) -> bool:
            # The subscriber (on the home loop) has the message in hand; it puts it into
            # the core only once aclose() (in this test's thread) hands the home loop work.
            home.handed.clear()
            arrived.set()
            home.handed.wait()
            return put(channel, payload, **options)

        monkeypatch.setattr(layer.local, "put_nowait", delivered_once_aclose_acts)
        caplog.set_level(logging.WARNING)
        await layer.send(quiet, {"type": "late"})
        await asyncio.to_thread(arrived.wait)
        await layer.aclose()

        with pytest.raises(LayerClosedError):
            await asyncio.wrap_future(receiving)
        stats = layer.statistics()
        assert (stats.buffered, stats.channels) == (0, 0), "the closed layer kept a message"
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    finally:
        home.call_soon_threadsafe(home.stop)
        thread.join()
        home.close()
