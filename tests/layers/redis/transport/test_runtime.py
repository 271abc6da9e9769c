"""One runtime per (process, event loop): made on first use in a loop, closed with it,
renewed in a forked child, and work for another loop handed to that loop."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from multiprocessing.connection import Connection

import pytest

from fast_channels.exceptions import LayerClosedError
from fast_channels.layers.redis.transport import Link, SingleNode
from fast_channels.layers.redis.transport._runtime import Runtime, Runtimes, run_in
from tests.layers.redis.queue_helpers import client_count
from tests.layers.redis.transport.conftest import INCR, OPTIONS, SCRIPTS
from tests.servers import RedisProcess

pytestmark = pytest.mark.redis


class Part:
    """A layer's per-loop part that only records its end."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def runtimes_on(server: RedisProcess) -> Runtimes[Part]:
    transport = SingleNode({"host": "127.0.0.1", "port": server.port}, options=OPTIONS)
    return Runtimes(transport, Part, scripts=SCRIPTS)


async def used(runtimes: Runtimes[Part]) -> Runtime[Part]:
    runtime = runtimes.current()
    assert runtimes.current() is runtime
    await runtime.link.script(0, INCR, ("runtime-test",), ())
    return runtime


def test_each_event_loop_gets_a_runtime_closed_when_the_loop_ends(
    own_redis: RedisProcess,
) -> None:
    runtimes = runtimes_on(own_redis)
    first = asyncio.run(used(runtimes))
    assert first.closed
    assert first.part.closed
    assert asyncio.run(client_count(own_redis.url)) == 0  # its connections are closed
    second = asyncio.run(used(runtimes))
    assert second is not first
    assert second.closed


async def test_closing_the_runtimes_closes_the_running_loops_runtime(
    own_redis: RedisProcess,
) -> None:
    runtimes = runtimes_on(own_redis)
    runtime = await used(runtimes)
    assert runtimes.held() == [runtime]
    await runtimes.aclose()
    assert runtime.closed
    assert runtime.part.closed
    assert runtimes.held() == []
    with pytest.raises(LayerClosedError):
        runtimes.current()


def _child(runtimes: Runtimes[Part], out: Connection) -> None:
    async def main() -> str:
        if runtimes.held():
            return "the parent's runtime is held in the child"
        runtime = await used(runtimes)
        return "fresh" if runtimes.held() == [runtime] else "not fresh"

    out.send(asyncio.run(main()))


def test_a_forked_child_starts_afresh_and_leaves_the_parents_runtime_alone(
    own_redis: RedisProcess,
) -> None:
    runtimes = runtimes_on(own_redis)
    with asyncio.Runner() as runner:
        parent = runner.run(used(runtimes))
        reader, writer = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("fork").Process(target=_child, args=(runtimes, writer))
        child.start()
        child.join(20)
        assert reader.poll(0)
        assert reader.recv() == "fresh"
        assert not parent.closed
        assert runner.run(parent.link.script(0, INCR, ("runtime-test",), ())) == 3
        assert runner.run(used(runtimes)) is parent


async def test_work_for_another_loop_runs_on_that_loop() -> None:
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    try:

        async def where() -> asyncio.AbstractEventLoop:
            return asyncio.get_running_loop()

        assert await run_in(other, where) is other
        assert await run_in(asyncio.get_running_loop(), where) is asyncio.get_running_loop()
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()
    with pytest.raises(LayerClosedError):
        await run_in(other, where)
