"""The sync API (``layer.send_sync`` ...): from threads, other processes, never from async code."""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from types import FrameType

import pytest

from fast_channels import sync
from fast_channels.exceptions import (
    ChannelFull,
    InvalidChannelNameError,
    InvalidGroupNameError,
    LayerClosedError,
    SyncCalledFromAsyncError,
)
from fast_channels.layers import BaseChannelLayer, InMemoryChannelLayer
from fast_channels.types import Message
from tests.servers import RedisProcess


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == sync.THREAD_NAME]


class RecordingLayer(InMemoryChannelLayer):
    """Records in which thread the sync API released its loop resources."""

    def __init__(self) -> None:
        super().__init__(capacity=10)
        self.released_in: list[str] = []

    async def release_loop_resources(self) -> None:
        self.released_in.append(threading.current_thread().name)


def test_twenty_threads_send_to_one_channel_in_order_per_thread() -> None:
    layer = InMemoryChannelLayer(capacity=1000)
    errors: list[BaseException] = []

    def sender(t: int) -> None:
        try:
            for i in range(50):
                layer.send_sync("work", {"type": "job", "t": t, "i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(loop_threads()) == 1

    async def drain() -> list[Message]:
        got = [await layer.receive("work") for _ in range(1000)]
        await layer.aclose()
        return got

    received = asyncio.run(drain())
    per_thread: dict[int, list[int]] = defaultdict(list)
    for message in received:
        per_thread[message["t"]].append(message["i"])
    assert per_thread == {t: list(range(50)) for t in range(20)}
    assert layer.statistics().sent == 1000


async def test_group_send_sync_from_a_thread_wakes_waiting_receivers() -> None:
    layer = InMemoryChannelLayer()
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("room", channel)
    waiting = [asyncio.create_task(layer.receive(channel)) for channel in channels]
    await asyncio.sleep(0)
    message = {"type": "chat.message", "text": "from a thread"}
    await asyncio.to_thread(layer.group_send_sync, "room", message)
    assert await asyncio.gather(*waiting) == [message] * 3
    await layer.aclose()


async def test_group_add_discard_and_flush_sync() -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await asyncio.to_thread(layer.group_add_sync, "g", channel)
    await asyncio.to_thread(layer.group_send_sync, "g", {"type": "one"})
    assert await layer.receive(channel) == {"type": "one"}
    await asyncio.to_thread(layer.group_discard_sync, "g", channel)
    await asyncio.to_thread(layer.group_send_sync, "g", {"type": "two"})
    await asyncio.to_thread(layer.send_sync, channel, {"type": "three"})
    assert await layer.receive(channel) == {"type": "three"}
    await asyncio.to_thread(layer.send_sync, channel, {"type": "four"})
    await asyncio.to_thread(layer.flush_sync)
    assert layer.statistics().buffered == 0
    await layer.aclose()


async def test_sync_call_inside_an_event_loop_raises_and_sends_nothing() -> None:
    layer = InMemoryChannelLayer()
    with pytest.raises(SyncCalledFromAsyncError, match=r"await layer\.send\(\.\.\.\)"):
        layer.send_sync("work", {"type": "job"})
    with pytest.raises(SyncCalledFromAsyncError, match=r"await layer\.group_send\(\.\.\.\)"):
        layer.group_send_sync("g", {"type": "job"})
    with pytest.raises(SyncCalledFromAsyncError, match=r"fast_channels\.sync\.run"):
        sync.run(layer.send, "work", {"type": "job"})
    assert isinstance(SyncCalledFromAsyncError("x"), RuntimeError)
    assert layer.statistics().sent == 0
    await layer.aclose()


def test_errors_are_raised_in_the_calling_thread() -> None:
    layer = InMemoryChannelLayer(capacity=1)
    with pytest.raises(InvalidChannelNameError):
        layer.send_sync("not a channel", {"type": "x"})
    with pytest.raises(InvalidGroupNameError):
        layer.group_send_sync("bad group!", {"type": "x"})
    layer.send_sync("full", {"type": "x"})
    with pytest.raises(ChannelFull):
        layer.send_sync("full", {"type": "x"})
    sync.run(layer.aclose)
    with pytest.raises(LayerClosedError):
        layer.send_sync("full", {"type": "x"})


class Interrupted(Exception):
    """Raised by a signal handler in the main thread, as Ctrl-C raises KeyboardInterrupt."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


@pytest.mark.parametrize("kind", ["in-memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_an_interrupted_receive_takes_no_message(kind: str, request: pytest.FixtureRequest) -> None:
    """The main thread, blocked in ``sync.run(layer.receive, ...)``, is interrupted by a
    signal: the receive on the loop thread ends with it, and the next message goes to
    the next receive."""
    layer: BaseChannelLayer = InMemoryChannelLayer()
    if kind == "redis":
        from fast_channels.layers.redis import RedisChannelLayer

        url = request.getfixturevalue("redis_server").url
        layer = RedisChannelLayer(hosts=[url], prefix="sync-interrupt")
    main = threading.get_ident()
    assert threading.current_thread() is threading.main_thread(), "signals go to it"

    def interrupt_once_waiting() -> None:
        for _ in range(1000):  # a hang guard, not a timing assertion
            if layer.statistics().waiting_receivers:
                break
            time.sleep(0.01)
        signal.pthread_kill(main, signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, _raise_interrupted)
    try:
        interrupter = threading.Thread(target=interrupt_once_waiting)
        interrupter.start()
        with pytest.raises(Interrupted):
            sync.run(layer.receive, "work")
        interrupter.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert layer.statistics().waiting_receivers == 0, "the abandoned receive still waits"

    layer.send_sync("work", {"type": "job", "n": 1})
    assert sync.run(layer.receive, "work") == {"type": "job", "n": 1}
    sync.run(layer.flush)
    sync.run(layer.aclose)


def test_run_returns_the_result() -> None:
    layer = InMemoryChannelLayer()
    name = sync.run(layer.new_channel, "jobs.")
    assert name.startswith("jobs.")
    sync.run(layer.aclose)


def test_shutdown_releases_loop_resources_and_a_later_call_restarts() -> None:
    layer = RecordingLayer()
    layer.send_sync("a", {"type": "x"})
    assert len(loop_threads()) == 1
    sync.shutdown()
    assert loop_threads() == []
    assert layer.released_in == [sync.THREAD_NAME]
    layer.send_sync("a", {"type": "y"})
    assert len(loop_threads()) == 1
    assert layer.statistics().sent == 2
    sync.shutdown()
    assert layer.released_in == [sync.THREAD_NAME] * 2


def test_a_plain_process_exits_cleanly_and_releases_at_exit() -> None:
    script = textwrap.dedent(
        """
        import threading
        from fast_channels.layers import BaseChannelLayer, InMemoryChannelLayer

        class Layer(InMemoryChannelLayer):
            async def release_loop_resources(self) -> None:
                print("released in", threading.current_thread().name, flush=True)

        layer = Layer()
        threads = [
            threading.Thread(target=layer.group_send_sync, args=("g", {"type": "x"}))
            for _ in range(5)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        layer.send_sync("work", {"type": "job"})
        print("sent", layer.statistics().sent, flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-X", "dev", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["sent 1", f"released in {sync.THREAD_NAME}"]
    assert done.stderr == ""


def _child_sends(layer: InMemoryChannelLayer, result: multiprocessing.Queue[str]) -> None:
    layer.send_sync("child", {"type": "x"})
    parent_threads = [t for t in loop_threads() if t.ident != threading.get_ident()]
    result.put(f"{len(parent_threads)} {layer.statistics().sent}")


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_a_forked_child_starts_its_own_loop_thread() -> None:
    layer = InMemoryChannelLayer()
    layer.send_sync("parent", {"type": "x"})
    context = multiprocessing.get_context("fork")
    result: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_child_sends, args=(layer, result))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    # One loop thread in the child (its own), and the child's copy counted its send.
    assert result.get(timeout=10) == "1 2"
    sync.run(layer.aclose)


REDIS_SENDER = """
import sys, threading
from fast_channels.layers.redis import RedisChannelLayer

layer = RedisChannelLayer(hosts=[sys.argv[1]], prefix="synctest", capacity=2000)

def sender(t: int) -> None:
    for i in range(50):
        layer.send_sync("sync.inbox", {"type": "job", "t": t, "i": i})

threads = [threading.Thread(target=sender, args=(t,)) for t in range(20)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
layer.group_send_sync("watchers", {"type": "all.sent"})
print("sent", flush=True)
"""


@pytest.mark.redis
async def test_a_plain_python_process_sends_over_redis_from_twenty_threads(
    redis_server: RedisProcess,
) -> None:
    from fast_channels.layers.redis import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[redis_server.url], prefix="synctest", capacity=2000)
    await layer.flush()
    watcher = await layer.new_channel()
    await layer.group_add("watchers", watcher)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-c",
        REDIS_SENDER,
        redis_server.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert (process.returncode, out, err) == (0, b"sent\n", b"")
    assert await layer.receive(watcher) == {"type": "all.sent"}
    per_thread: dict[int, list[int]] = defaultdict(list)
    for _ in range(1000):
        message = await layer.receive("sync.inbox")
        per_thread[message["t"]].append(message["i"])
    assert per_thread == {t: list(range(50)) for t in range(20)}
    await layer.flush()
    await layer.aclose()


@pytest.mark.redis
def test_sync_calls_share_one_pool_and_shutdown_closes_it(redis_server: RedisProcess) -> None:
    from fast_channels.layers.redis import RedisChannelLayer
    from tests.layers.redis.queue_helpers import client_count

    sync.shutdown()

    def connections() -> int:
        return asyncio.run(client_count(redis_server.url))

    def sender() -> None:
        for _ in range(50):
            layer.send_sync("pool.x", {"type": "x"})

    baseline = connections()
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix="pooltest", capacity=5000)
    counts: list[int] = []
    for _ in range(3):
        threads = [threading.Thread(target=sender) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counts.append(connections() - baseline)
    assert 1 <= max(counts) <= layer.conn.max_connections
    assert len(loop_threads()) == 1
    sync.shutdown()
    for _ in range(100):  # Redis notices closed sockets on its next event loop turn
        if connections() == baseline:
            break
        time.sleep(0.05)
    assert connections() == baseline
    asyncio.run(layer.flush())
    asyncio.run(layer.aclose())


def test_every_documented_sync_call_runs_on_the_registered_layer() -> None:
    """docs/examples/sync_calls.py: the calls docs/sync.md lists, on ``get_channel_layer()``."""
    from docs.examples.sync_calls import every_sync_call
    from fast_channels.layers import register_channel_layer

    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    received = every_sync_call()
    assert received == {
        "type": "received",
        "group": {"type": "export.done", "url": "/exports/42.csv"},
        "direct": {"type": "thumbnail.create", "job": 7},
    }
    assert layer.statistics().groups == 0


async def test_to_thread_runs_the_threads_sync_calls_on_the_calling_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    class Layer(InMemoryChannelLayer):
        async def send(self, channel: str, message: Message) -> None:
            loops.append(asyncio.get_running_loop())
            await super().send(channel, message)

    layer = Layer()
    channel = await layer.new_channel()

    async def where() -> None:
        loops.append(asyncio.get_running_loop())

    def blocking_code() -> str:
        layer.send_sync(channel, {"type": "from.thread"})
        sync.run(where)
        return threading.current_thread().name

    thread = await sync.to_thread(blocking_code)
    assert thread != threading.current_thread().name
    assert loops == [asyncio.get_running_loop()] * 2
    assert await layer.receive(channel) == {"type": "from.thread"}
    await layer.aclose()
